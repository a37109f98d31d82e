"""Fine-tune a span reader (bench/span_reader.py, an experiment) on the SQuAD v1.1 dev training half.

    .venv/bin/python bench/train_reader.py windows   # 1. what the reader will see at answer time
    .venv/bin/python bench/train_reader.py fit       # 2. fine-tune, export to ONNX int8
    .venv/bin/python bench/train_reader.py decide    # 3. fit the answer/decline decision, report

Only articles 0-23 are read (24-47 are the evaluation half, never touched here). The reader is
fitted on the questions of articles 0-17; articles 18-23, which it has not seen, fit the small
decision model that weighs its scores and give the validation figures printed at the end.

1. `windows` asks every training-half question through the shipped pipeline (the indexes
   `bench/train_answerer.py` builds, the same retriever, candidates and sentence model as
   `qa ask`) and keeps the reader's input: the best few sentences, best first. A window that holds
   a gold answer is a positive (the answer's position); one that does not is a "no answer" case
   (SQuAD 2.0 style: the target is the [CLS] token). Two kinds of negative are added: the same
   question asked of the other index, and of its own index with every passage stating the answer
   left out ("same story without the answer").
2. `fit` fine-tunes the encoder's own transformer (all-MiniLM-L6-v2) with a span head, on the CPU,
   and exports it with dynamic int8 quantisation (as the encoder is shipped) to
   bench/out/reader/shipped/.
3. `decide` runs the exported reader over the validation windows and fits a logistic regression
   (scikit-learn, written as JSON) on the pipeline's P(answerable) and the reader's span and
   no-answer scores, with the threshold chosen there, by article-grouped cross-validation.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from qa.squad import TRAIN_ARTICLES, contains_gold, exact_match, f1, load_squad  # noqa: E402

SQUAD = ROOT.parent / "shared" / "bench" / "squad" / "dev-v1.1.json"
FIT_ARTICLES = range(0, 18)
VALIDATION_ARTICLES = range(18, 24)
WORKDIR = ROOT / "bench" / "out" / "reader"


def find_answer(sentences: list[str], answers: tuple[str, ...]) -> tuple[int, int] | None:
    """(sentence index, char offset) of the first gold answer, in the reader's order."""
    for i, text in enumerate(sentences):
        for gold in sorted(answers, key=len):
            at = text.find(gold)
            if at >= 0:
                return i, at
    return None


def make_windows(args: argparse.Namespace) -> None:
    from span_reader import READER_SENTENCES
    from train_answerer import HALVES, NEAR_MISS_POOL, training_indexes

    from embeddings.encoder import load_encoder
    from qa.config import get_settings

    started = time.perf_counter()
    settings = get_settings()
    encoder = load_encoder(settings.model, settings.backend, ROOT / ".qa" / "cache")
    documents, questions = load_squad(SQUAD, TRAIN_ARTICLES)
    assert max(q.article for q in questions) < 24, "training must not read the evaluation half"
    answerers, retrievers = training_indexes(encoder, documents)
    vectors = encoder.encode([q.question for q in questions])
    rows = []
    for q, vector in zip(questions, vectors, strict=True):
        own = "A" if q.article in HALVES["A"] else "B"
        for name in HALVES:
            answerer = answerers[name]
            settings_hits = {
                ("own" if name == own else "other"): retrievers[name].run(q.question, settings.top_k, query_vector=vector)
            }
            if name == own:
                wide = retrievers[name].run(q.question, settings.top_k + NEAR_MISS_POOL, query_vector=vector)
                settings_hits["near"] = [h for h in wide if not contains_gold(h.passage.text, q.answers)][: settings.top_k]
            for setting, hits in settings_hits.items():
                scored = answerer.scorer.run(answerer.analyzer.run(q.question), answerer.extractor.run(hits), answerer.idf)
                window = [c.text for c in scored.ranked[:READER_SENTENCES]]
                if not window:
                    continue
                found = find_answer(window, q.answers) if setting == "own" else None
                rows.append(
                    {
                        "id": q.id,
                        "article": q.article,
                        "setting": setting,
                        "question": q.question,
                        "answers": list(q.answers),
                        "sentences": window,
                        "answer": found,
                        "kind": scored.question.kind.value,
                        "answerable": round(scored.answerable, 6),
                    }
                )
    WORKDIR.mkdir(parents=True, exist_ok=True)
    with (WORKDIR / "windows.jsonl").open("w") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    own_rows = [r for r in rows if r["setting"] == "own"]
    print(
        f"{len(rows)} windows ({len(own_rows)} own, of which {sum(r['answer'] is not None for r in own_rows)} hold a gold answer) "
        f"in {time.perf_counter() - started:.0f} s"
    )


def load_windows() -> list[dict]:
    return [json.loads(line) for line in (WORKDIR / "windows.jsonl").read_text().splitlines()]


def encode_examples(tokenizer, rows: list[dict], max_length: int):  # type: ignore[no-untyped-def]
    """Token ids and start/end targets ([CLS] = 0 for no answer, or when the answer was cut off)."""
    from span_reader import join_window

    examples = []
    for r in rows:
        text, starts = join_window(r["sentences"])
        enc = tokenizer(r["question"], text, truncation="only_second", max_length=max_length, return_offsets_mapping=True)
        start_tok = end_tok = 0
        if r["answer"] is not None:
            i, at = r["answer"]
            gold = next(g for g in sorted(r["answers"], key=len) if r["sentences"][i].find(g) == at)
            a0 = starts[i] + at
            a1 = a0 + len(gold)
            seq = enc.sequence_ids()
            for t, (o0, o1) in enumerate(enc["offset_mapping"]):
                if seq[t] != 1:
                    continue
                if start_tok == 0 and o0 <= a0 < o1:
                    start_tok = t
                if o0 < a1 <= o1:
                    end_tok = t
            if start_tok == 0 or end_tok < start_tok:
                start_tok = end_tok = 0
        examples.append((enc["input_ids"], enc["token_type_ids"], start_tok, end_tok))
    return examples


def fit(args: argparse.Namespace) -> None:
    import torch
    from span_reader import MAX_LENGTH, READER_DIR
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer, get_linear_schedule_with_warmup

    from embeddings.encoder import resolve_model

    torch.manual_seed(args.seed)
    random.seed(args.seed)
    torch.set_num_threads(args.threads)
    rows = load_windows()
    rng = random.Random(args.seed)
    train = [r for r in rows if r["article"] in FIT_ARTICLES and (r["setting"] != "other" or rng.random() < args.other_share)]
    val = [r for r in rows if r["article"] in VALIDATION_ARTICLES]
    _, model_dir = resolve_model("sentence-transformers/all-MiniLM-L6-v2")
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForQuestionAnswering.from_pretrained(str(model_dir))
    examples = encode_examples(tokenizer, train, MAX_LENGTH)
    # the word embeddings stay as the encoder learnt them: half the parameters, and little to gain
    # from 10k windows; freezing them makes a CPU step much cheaper
    model.base_model.embeddings.word_embeddings.weight.requires_grad_(False)
    print(f"{len(examples)} training windows ({sum(e[2] > 0 for e in examples)} with an answer)", flush=True)

    def batches(items: list, size: int, shuffle: bool):  # type: ignore[no-untyped-def]
        order = sorted(range(len(items)), key=lambda i: len(items[i][0]))  # similar lengths together: less padding
        chunks = [order[i : i + size] for i in range(0, len(order), size)]
        if shuffle:
            rng.shuffle(chunks)
        for chunk in chunks:
            width = max(len(items[i][0]) for i in chunk)
            ids = torch.zeros((len(chunk), width), dtype=torch.long)
            types = torch.zeros_like(ids)
            mask = torch.zeros_like(ids)
            for row, i in enumerate(chunk):
                n = len(items[i][0])
                ids[row, :n] = torch.tensor(items[i][0])
                types[row, :n] = torch.tensor(items[i][1])
                mask[row, :n] = 1
            yield chunk, ids, types, mask

    steps = args.epochs * ((len(examples) + args.batch - 1) // args.batch)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimizer, int(0.1 * steps), steps)
    started = time.perf_counter()
    step = 0
    model.train()
    for epoch in range(args.epochs):
        for chunk, ids, types, mask in batches(examples, args.batch, shuffle=True):
            out = model(
                input_ids=ids,
                attention_mask=mask,
                token_type_ids=types,
                start_positions=torch.tensor([examples[i][2] for i in chunk]),
                end_positions=torch.tensor([examples[i][3] for i in chunk]),
            )
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            if step % 20 == 0:
                print(
                    f"epoch {epoch} step {step}/{steps} loss {out.loss.item():.3f} {time.perf_counter() - started:.0f} s",
                    flush=True,
                )
    model.eval()
    out_dir = WORKDIR / "model"
    model.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
    export(out_dir, READER_DIR)
    print(f"fitted in {time.perf_counter() - started:.0f} s; {len(val)} validation windows kept for `decide`")


def export(model_dir: Path, reader_dir: Path) -> None:
    """ONNX export of the fine-tuned model, then dynamic int8 quantisation (per channel)."""
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from embeddings.encoder import quantize_int8

    model = AutoModelForQuestionAnswering.from_pretrained(str(model_dir)).eval()

    class Logits(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.start_logits, out.end_logits

    reader_dir.mkdir(parents=True, exist_ok=True)
    fp32 = WORKDIR / "reader-fp32.onnx"
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
        dynamic_axes={
            "input_ids": axes,
            "attention_mask": axes,
            "token_type_ids": axes,
            "start_logits": axes,
            "end_logits": axes,
        },
    )
    quantize_int8(fp32, reader_dir / "reader-int8.onnx")
    AutoTokenizer.from_pretrained(str(model_dir)).backend_tokenizer.save(str(reader_dir / "tokenizer.json"))
    print(f"exported {reader_dir / 'reader-int8.onnx'} ({(reader_dir / 'reader-int8.onnx').stat().st_size / 2**20:.1f} MiB)")


def decide(args: argparse.Namespace) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from span_reader import DECISION_FEATURES, READER_DIR, SpanReader, decision_features
    from train_answerer import as_dict

    from qa.answering.scorer import LinearModel

    reader = SpanReader.load()
    rows = [r for r in load_windows() if r["article"] in VALIDATION_ARTICLES]
    started = time.perf_counter()
    reads = [reader.read(r["question"], r["sentences"]) for r in rows]
    print(
        f"read {len(rows)} validation windows in {time.perf_counter() - started:.1f} s "
        f"({1000 * (time.perf_counter() - started) / len(rows):.1f} ms each)"
    )
    x = np.array([decision_features(r["answerable"], read) for r, read in zip(rows, reads, strict=True)])
    right = np.array(
        [
            r["setting"] == "own"
            and (f1(read.text, tuple(r["answers"])) >= 0.5 or contains_gold(r["sentences"][read.sentence], tuple(r["answers"])))
            for r, read in zip(rows, reads, strict=True)
        ]
    )
    setting = np.array([r["setting"] for r in rows])
    articles = np.array([r["article"] for r in rows])

    def fit_on(mask: np.ndarray) -> tuple[LogisticRegression, StandardScaler]:
        scaler = StandardScaler().fit(x[mask])
        return LogisticRegression(C=1.0, max_iter=2000).fit(scaler.transform(x[mask]), right[mask]), scaler

    # article-grouped cross-validation: each article's windows are scored by a model fitted without it
    p = np.zeros(len(rows))
    for a in VALIDATION_ARTICLES:
        model, scaler = fit_on(articles != a)
        p[articles == a] = model.predict_proba(scaler.transform(x[articles == a]))[:, 1]
    threshold = next(
        (float(t) for t in np.arange(0.05, 0.95, 0.01) if (p[setting == "other"] >= t).mean() <= args.max_false), 0.5
    )
    own = setting == "own"
    answered = p >= threshold
    base_answered = np.array([r["answerable"] for r in rows]) >= args.base_threshold
    base_right = np.array([r["setting"] == "own" and contains_gold(r["sentences"][0], tuple(r["answers"])) for r in rows])
    span_f1 = np.array(
        [f1(read.text, tuple(r["answers"])) if r["setting"] == "own" else 0.0 for r, read in zip(rows, reads, strict=True)]
    )
    span_em = np.array(
        [
            exact_match(read.text, tuple(r["answers"])) if r["setting"] == "own" else 0.0
            for r, read in zip(rows, reads, strict=True)
        ]
    )
    kinds = np.array([r["kind"] != "description" for r in rows])
    print(f"validation (articles 18-23, cross-validated by article), threshold {threshold:.2f}:")
    print(
        f"  reader, always answering: span EM {span_em[own].mean():.3f} F1 {span_f1[own].mean():.3f} "
        f"(questions asking for a thing: F1 {span_f1[own & kinds].mean():.3f})"
    )
    print(
        f"  with the decision: answered {answered[own].mean():.3f}, right {(answered & right)[own].mean():.3f}, "
        f"short F1 {(span_f1 * answered)[own].mean():.3f}; false answers: other index {answered[setting == 'other'].mean():.3f}, "
        f"same story without the answer {answered[setting == 'near'].mean():.3f}"
    )
    print(
        f"  shipped pipeline alone (threshold {args.base_threshold}): answered {base_answered[own].mean():.3f}, "
        f"best sentence right {(base_answered & base_right)[own].mean():.3f}; false answers: other {base_answered[setting == 'other'].mean():.3f}, "
        f"near {base_answered[setting == 'near'].mean():.3f}"
    )
    model, scaler = fit_on(np.ones(len(rows), dtype=bool))
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    decision = LinearModel(
        DECISION_FEATURES,
        tuple(float(v) for v in model.coef_[0]),
        float(model.intercept_[0]),
        tuple(float(v) for v in scaler.mean_),
        tuple(float(v) for v in scale),
    )
    out = {
        "trained_on": "reader: SQuAD v1.1 dev articles 0-17; decision and threshold: articles 18-23; 24-47 never read",
        "threshold": round(threshold, 4),
        "decision": as_dict(decision),
    }
    (READER_DIR / "decision.json").write_text(json.dumps(out, indent=1) + "\n")
    print("decision weights: " + ", ".join(f"{n} {c:+.2f}" for n, c in zip(DECISION_FEATURES, model.coef_[0], strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("windows")
    p = sub.add_parser("fit")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--other-share", type=float, default=0.15, help="share of other-index negatives kept")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=13)
    p = sub.add_parser("decide")
    p.add_argument("--max-false", type=float, default=0.08, help="false answers allowed on the other index (target <= 0.10)")
    p.add_argument("--base-threshold", type=float, default=0.30)
    args = parser.parse_args()
    {"windows": make_windows, "fit": fit, "decide": decide}[args.command](args)


if __name__ == "__main__":
    main()
