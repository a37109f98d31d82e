"""Fine-tune the shipped encoder (all-MiniLM-L6-v2) into the extractive reader, resumably.

    .venv/bin/python -m training.reader.data                 # 1. examples (a minute)
    .venv/bin/python -m training.reader.train fit            # 2. fine-tune; rerun to resume
    .venv/bin/python -m training.reader.export               # 3. int8 ONNX + tokenizer into qa/answering/reader/
    .venv/bin/python -m training.reader.train validate       # the validation figures of a saved reader or checkpoint

A start/end span head on the transformer, SQuAD 2.0 style: "no answer" is the [CLS] token for
both start and end, so the reader gives an explicit no-answer score next to every span's.

Deterministic: one seed fixes the example order (shuffled once by `training.reader.data`), the
head's initialisation and dropout; one thread count (`--threads`). Resumable: every
`--checkpoint-every` steps the model, optimiser, schedule and step are written to
training/out/reader/checkpoint.pt (ignored by git) and a rerun of `fit` continues from there, so a
stopped session loses at most that many steps. Validation figures (span F1 on windows that hold
the answer, no-answer accuracy on those that do not, per kind) are printed at each checkpoint
and appended to training/out/reader/curve.jsonl: a learning curve against examples seen.

bf16 autocast is used where the CPU has AMX/AVX-512 bf16 (`--bf16 auto`): about 3× the fp32
speed on this machine.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qa.answering.reader import best_span
from qa.answering.reader_format import MAX_LENGTH, Window, make_window
from qa.evaluation.squad import f1
from training.reader.data import OUT, Example, read

BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
CHECKPOINT = OUT / "checkpoint.pt"
CURVE = OUT / "curve.jsonl"
FINAL = OUT / "model"


def tokenizer_for(model_dir: Path):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(MAX_LENGTH, strategy="only_second")
    return tok


def encode(tok, examples: list[Example]) -> list[tuple[list[int], list[int], int, int]]:
    """Token ids, type ids and start/end token targets (0, the [CLS] token, for no answer)."""
    windows = [make_window(ex.title, ex.sentences) for ex in examples]
    encs = tok.encode_batch([(ex.question, w.text) for ex, w in zip(examples, windows, strict=True)])
    out = []
    for ex, w, enc in zip(examples, windows, encs, strict=True):
        start_tok = end_tok = 0
        if ex.answer is not None:
            i, a, b = ex.answer
            a0, a1 = w.starts[i] + a, w.starts[i] + b
            for t, (seq, (o0, o1)) in enumerate(zip(enc.sequence_ids, enc.offsets, strict=True)):
                if seq != 1:
                    continue
                if start_tok == 0 and o0 <= a0 < o1:
                    start_tok = t
                if o0 < a1 <= o1:
                    end_tok = t
            if start_tok == 0 or end_tok < start_tok:
                start_tok = end_tok = -1  # the answer was cut off: not a usable example
        if start_tok >= 0:
            out.append((enc.ids, enc.type_ids, start_tok, end_tok))
    return out


def batches(items: list, size: int, seed: int, epoch: int):
    """Batches of similar length (little padding), in an order fixed by the seed and epoch."""
    rng = random.Random(seed * 1000 + epoch)
    order = list(range(len(items)))
    rng.shuffle(order)
    # sort within pools of 50 batches by length: little padding, order still random across pools
    pool = size * 50
    chunks = []
    for p in range(0, len(order), pool):
        part = sorted(order[p : p + pool], key=lambda i: len(items[i][0]))
        part_chunks = [part[i : i + size] for i in range(0, len(part), size)]
        rng.shuffle(part_chunks)
        chunks.extend(part_chunks)
    return chunks


def tensors(items: list, chunk: list[int]) -> dict[str, torch.Tensor]:
    width = max(len(items[i][0]) for i in chunk)
    ids = torch.zeros((len(chunk), width), dtype=torch.long)
    types = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    for row, i in enumerate(chunk):
        n = len(items[i][0])
        ids[row, :n] = torch.tensor(items[i][0])
        types[row, :n] = torch.tensor(items[i][1])
        mask[row, :n] = 1
    return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}


def kept_layers(total: int, layers: int) -> list[int]:
    """Which of the teacher's `total` layers a student of `layers` starts from: spread evenly, the
    last included (the span head was trained on its output): 6 → 3 keeps 1, 3 and 5."""
    return [round((i + 1) * total / layers) - 1 for i in range(layers)]


def reader_model(source: Path, layers: int = 0):
    """The span model saved in `source` (or the base encoder with a new head), cut to `layers` of
    its layers spread evenly (`kept_layers`) when a smaller student is wanted (0: all of them)."""
    from transformers import AutoModelForQuestionAnswering

    model = AutoModelForQuestionAnswering.from_pretrained(str(source))
    total = model.config.num_hidden_layers
    if layers > total:
        raise SystemExit(f"--layers {layers}: the model in {source} has only {total} layers")
    if 0 < layers < total:
        encoder = model.base_model.encoder
        encoder.layer = torch.nn.ModuleList(encoder.layer[i] for i in kept_layers(total, layers))
        model.config.num_hidden_layers = layers
    return model


def distillation_loss(student, teacher, inputs: dict, start: torch.Tensor, end: torch.Tensor, temperature: float, alpha: float):
    """`alpha` × the gold spans' cross-entropy + (1 − `alpha`) × T² × KL(teacher ‖ student) on the
    start and end distributions softened by `temperature` (Hinton et al. 2015). Padding is masked
    out of both (the plain `fit` loss, transformers', leaves it in: the same on unpadded batches)."""
    import torch.nn.functional as F

    pad = inputs["attention_mask"] == 0
    out = student(**inputs)
    with torch.no_grad():
        taught = teacher(**inputs)
    loss = out.start_logits.new_zeros((), dtype=torch.float32)
    for logits, target, guide in ((out.start_logits, start, taught.start_logits), (out.end_logits, end, taught.end_logits)):
        logits, guide = logits.float().masked_fill(pad, -1e4), guide.float().masked_fill(pad, -1e4)
        gold = F.cross_entropy(logits, target)
        soft = F.kl_div(
            F.log_softmax(logits / temperature, dim=-1),
            F.log_softmax(guide / temperature, dim=-1),
            reduction="batchmean",
            log_target=True,
        )
        loss = loss + (alpha * gold + (1 - alpha) * temperature**2 * soft) / 2
    return loss


ANSWERED_SHARE = 0.90  # of answer windows, for the threshold-free no-answer figures


def declined_at(
    answer_margins: list[float], margins: dict[str, list[float]], answered: float = ANSWERED_SHARE
) -> dict[str, float]:
    """Per kind, the share of no-answer windows declined at the margin above which `answered` of the
    answer windows stay answered (their margins' lower quantile)."""
    if not answer_margins:
        return {}
    # "lower": a margin that occurs (an answer window without a span has -inf; interpolating gives NaN)
    at = float(np.quantile(answer_margins, 1 - answered, method="lower"))
    return {kind: float(np.mean(np.asarray(values) <= at)) for kind, values in sorted(margins.items()) if values}


def validate(model, tok, examples: list[Example], batch: int = 64) -> dict[str, float]:
    """Span F1 on answer windows (always answering) and no-answer accuracy (margin < 0) per kind.

    Also each kind's no-answer accuracy at the margin that keeps `ANSWERED_SHARE` of the SQuAD
    answer windows answered (`declined_at90_*`). A run that only moved its bias towards "no answer"
    declines more at margin 0 but not there, so runs on different data mixes compare on it. Only
    windows of kind `answer` set that margin: other answer kinds (relative dates) would make it
    depend on which validation files were given."""
    model.eval()
    windows: list[Window] = [make_window(ex.title, ex.sentences) for ex in examples]
    encs = tok.encode_batch([(ex.question, w.text) for ex, w in zip(examples, windows, strict=True)])
    f1s, answered_pos, f1_by_kind = [], [], {}  # type: ignore[var-annotated]
    answer_margins: list[float] = []
    margins: dict[str, list[float]] = {}
    with torch.inference_mode():
        for b0 in range(0, len(examples), batch):
            part = list(range(b0, min(b0 + batch, len(examples))))
            items = [(encs[i].ids, encs[i].type_ids) for i in part]
            out = model(**tensors(items, list(range(len(items)))))
            for row, i in enumerate(part):
                enc, w, ex = encs[i], windows[i], examples[i]
                n = len(enc.ids)
                # the same span search as at answer time: inside one sentence, never in the title
                span = best_span(
                    0,
                    w,
                    enc.sequence_ids,
                    enc.offsets,
                    out.start_logits[row, :n].float().numpy(),
                    out.end_logits[row, :n].float().numpy(),
                )
                text, score, null = (span.text, span.span_score, span.null_score) if span else ("", -math.inf, 0.0)
                if ex.answer is not None:
                    f1s.append(f1(text, ex.answers))
                    answered_pos.append(score > null)
                    if ex.kind == "answer":
                        answer_margins.append(score - null)
                    f1_by_kind.setdefault(ex.kind, []).append(f1s[-1])
                else:
                    margins.setdefault(ex.kind, []).append(score - null)
    model.train()
    result = {"span_f1": float(np.mean(f1s)), "answer_windows_answered": float(np.mean(answered_pos))}
    for kind, values in sorted(margins.items()):
        result[f"declined_{kind}"] = float(np.mean(np.asarray(values) <= 0))  # score <= null
    for kind, share in declined_at(answer_margins, margins).items():
        result[f"declined_at{round(100 * ANSWERED_SHARE)}_{kind}"] = share
    for kind, values in sorted(f1_by_kind.items()):
        if kind != "answer":  # answer windows of another kind (relative dates): their own span F1
            result[f"span_f1_{kind}"] = float(np.mean(values))
    return result


def fit(args: argparse.Namespace) -> None:
    from transformers import get_linear_schedule_with_warmup

    from embeddings.encoder import resolve_model

    torch.manual_seed(args.seed)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)
    _, model_dir = resolve_model(BASE_MODEL)
    tok = tokenizer_for(model_dir)
    started = time.perf_counter()
    checkpoint, curve_file, final = run_paths(args.out)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    train = training_examples(args.data, args.seed)
    if args.skip:
        train = train[args.skip :]
    if args.limit:
        train = train[: args.limit]
    items = encode(tok, train)
    val = validation_windows(args.seed, args.val_size, args.validation)
    print(f"{len(items)} training examples ({sum(e[2] > 0 for e in items)} with an answer), "
          f"{len(val)} validation windows, encoded in {time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
    model = reader_model(args.init or model_dir, args.layers)
    teacher = None
    if args.teacher is not None:  # distillation: the student learns the teacher's span distributions too
        teacher = reader_model(args.teacher).eval()
        print(f"student of {model.config.num_hidden_layers} layers, taught by {args.teacher}", flush=True)
    # the word embeddings stay as the encoder learnt them: half the parameters, a much cheaper step
    model.base_model.embeddings.word_embeddings.weight.requires_grad_(False)
    per_epoch = math.ceil(len(items) / args.batch)
    steps = args.epochs * per_epoch
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimizer, int(0.06 * steps), steps)
    step = 0
    if checkpoint.exists() and not args.restart:
        state = torch.load(checkpoint, weights_only=False)
        if state["steps"] != steps or state["seed"] != args.seed:
            raise SystemExit(
                f"{checkpoint} was written for {state['steps']} steps, seed {state['seed']}: use --restart or its settings"
            )
        expected = distillation_settings(model, args)
        written = {k: state.get(k, v) for k, v in expected.items()}  # absent: a checkpoint from before students
        if written != expected:
            raise SystemExit(f"{checkpoint} was written with {written}: use --restart or those settings")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        torch.set_rng_state(state["torch_rng"])
        step = state["step"]
        print(f"resumed at step {step}/{steps}", flush=True)
    bf16 = args.bf16 == "on" or (args.bf16 == "auto" and torch.backends.mkldnn.is_available() and _has_bf16())
    model.train()
    clock = time.perf_counter()
    done_at_start = step
    while step < steps:
        epoch, skip = divmod(step, per_epoch)
        for chunk in batches(items, args.batch, args.seed, epoch)[skip:]:
            inputs = tensors(items, chunk)
            start, end = torch.tensor([items[i][2] for i in chunk]), torch.tensor([items[i][3] for i in chunk])
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                if teacher is None:
                    loss = model(**inputs, start_positions=start, end_positions=end).loss
                else:
                    loss = distillation_loss(model, teacher, inputs, start, end, args.temperature, args.alpha)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            if step % 50 == 0:
                rate = (step - done_at_start) * args.batch / (time.perf_counter() - clock)
                print(f"step {step}/{steps} (epoch {epoch}) loss {loss.item():.3f} {rate:.1f} examples/s", flush=True)
            if step % args.checkpoint_every == 0 or step == steps:
                save(checkpoint, model, optimizer, schedule, step, steps, args.seed, distillation_settings(model, args))
                figures = validate(model, tok, val)
                seen = args.init_seen + step * args.batch
                figures.update(step=step, examples_seen=seen, seconds=round(time.perf_counter() - clock))
                with curve_file.open("a") as fh:
                    fh.write(json.dumps(figures) + "\n")
                print("validation " + json.dumps(figures), flush=True)
            if step >= steps:
                break
    model.save_pretrained(str(final))
    print(f"finished: {steps} steps; model in {final}", flush=True)


def checkpoint_model(checkpoint: Path, base_dir: Path) -> tuple[Any, dict]:
    """The reader a run's checkpoint holds (a distilled student with its fewer layers), and the checkpoint."""
    state = torch.load(checkpoint, weights_only=False)
    model = reader_model(base_dir, state.get("layers", 0))
    model.load_state_dict(state["model"])
    return model, state


def validation_windows(seed: int, size: int, extra: list[str]) -> list[Example]:
    """A seeded sample of `size` of validation.jsonl's windows, and every window of the `extra` files."""
    every = read(OUT / "validation.jsonl")
    windows = random.Random(seed).sample(every, min(size, len(every)))
    for name in extra:
        windows += read(OUT / name)
    return windows


def validate_saved(args: argparse.Namespace) -> None:
    """`validate`: a saved reader or a run's checkpoint on the validation windows a `fit` with the
    same seed, size and files reads, so that figures of models trained elsewhere compare with a curve."""
    from embeddings.encoder import resolve_model

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    _, model_dir = resolve_model(BASE_MODEL)
    val = validation_windows(args.seed, args.val_size, args.validation)
    if args.checkpoint is not None:
        model, _ = checkpoint_model(args.checkpoint, model_dir)
    else:
        model = reader_model(args.model or FINAL)
    figures = validate(model, tokenizer_for(model_dir), val)
    print("validation " + json.dumps(figures), flush=True)


def _has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def run_paths(out: Path | None) -> tuple[Path, Path, Path]:
    """Checkpoint, curve and finished model of a run: the main run's, or those of a run in `out`."""
    if out is None:
        return CHECKPOINT, CURVE, FINAL
    return out / "checkpoint.pt", out / "curve.jsonl", out / "model"


def training_examples(specs: list[str], seed: int) -> list[Example]:
    """The examples of each `FILE[:N]` (under training/out/reader/; N: a seeded sample of N), mixed.

    One file is read in its own order (`training.reader.data` shuffled it once); several are
    shuffled together so that every batch mixes them.
    """
    rng = random.Random(seed)
    examples: list[Example] = []
    for spec in specs:
        name, _, count = spec.partition(":")
        part = read(OUT / name)
        examples += rng.sample(part, int(count)) if count else part
    if len(specs) > 1:
        rng.shuffle(examples)
    return examples


def distillation_settings(model, args: argparse.Namespace) -> dict:
    """What a checkpoint must be resumed with besides steps and seed: the student's size and its teacher."""
    if args.teacher is None:
        return {"layers": model.config.num_hidden_layers, "teacher": None}
    return {
        "layers": model.config.num_hidden_layers,
        "teacher": str(args.teacher),
        "alpha": args.alpha,
        "temperature": args.temperature,
    }


def save(checkpoint: Path, model, optimizer, schedule, step: int, steps: int, seed: int, settings: dict) -> None:
    tmp = checkpoint.with_suffix(".tmp")
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "schedule": schedule.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "step": step,
            "steps": steps,
            "seed": seed,
            **settings,
        },
        tmp,
    )
    tmp.replace(checkpoint)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("fit")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--limit", type=int, default=0, help="train on the first N examples only (a learning curve)")
    p.add_argument("--checkpoint-every", type=int, default=300)
    p.add_argument("--bf16", choices=["auto", "on", "off"], default="auto")
    p.add_argument("--restart", action="store_true", help="ignore an existing checkpoint")
    p.add_argument("--skip", type=int, default=0, help="leave out the first N examples (those an --init model saw)")
    p.add_argument("--init", type=Path, default=None, help="start from this saved model instead of the base encoder")
    p.add_argument("--init-seen", type=int, default=0, help="examples the --init model saw, for the curve")
    p.add_argument(
        "--data", action="append", default=None, metavar="FILE[:N]",
        help="training examples under training/out/reader/ (repeat to mix; :N a seeded sample); default train.jsonl",
    )  # fmt: skip
    p.add_argument("--out", type=Path, default=None, help="keep this run's checkpoint, curve and model here")
    p.add_argument("--layers", type=int, default=0, help="a student of this many layers, cut from --init's (0: all)")
    p.add_argument("--teacher", type=Path, default=None, help="distil from this saved reader (`fit --out DIR`'s DIR/model)")
    p.add_argument("--temperature", type=float, default=2.0, help="distillation: softening of both span distributions")
    p.add_argument("--alpha", type=float, default=0.5, help="distillation: weight of the gold spans against the teacher's")
    v = sub.add_parser("validate", help="the validation figures of a saved reader or a checkpoint")
    source = v.add_mutually_exclusive_group()
    source.add_argument("--model", type=Path, default=None, help="a saved reader (default: the main run's model)")
    source.add_argument("--checkpoint", type=Path, default=None, help="a run's checkpoint.pt")
    for q in (p, v):
        q.add_argument("--seed", type=int, default=13)
        q.add_argument("--threads", type=int, default=2)
        q.add_argument("--val-size", type=int, default=800)
        q.add_argument("--validation", action="append", default=[], metavar="FILE", help="more validation windows (all of them)")
    args = parser.parse_args()
    if args.command == "validate":
        validate_saved(args)
        return
    args.data = args.data or ["train.jsonl"]
    fit(args)


if __name__ == "__main__":
    main()
