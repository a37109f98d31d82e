"""Fit the reader's answer-or-decline decision (`reader.json`) on questions the reader never saw.

    .venv/bin/python -m training.reader.decide [--news-index bench/out/news-index]

Cases, each read through the shipped pipeline (retriever → feature scorer → reader):
* SQuAD v1.1 dev articles 18-23, each question asked of the index holding its paragraph (`own`:
  right when the answer holds a gold answer), of the index of the other articles (`other`), and of
  its own index with every passage stating the answer left out (`near`): both must be declined;
* the SQuAD 2.0 unanswerable questions on those articles, asked of their own index (`squad2`);
* the news development set's tune half (`news`) on the news index, when it is built: right when
  the answer holds an accepted answer and cites a gold document.
Articles 0-17 fitted the reader; 24-47 are never read.

A logistic regression (scikit-learn, written as JSON) weighs `DecisionFeatures` of every window
the reader read: is answering from this window right? At answer time the likeliest window answers
when its probability reaches the threshold. Figures are
cross-validated by article (each article's cases scored by a model fitted without them); the
threshold maximises the mean of two halves: questions that have an answer (answered right) and
questions that must be declined (declined), each the mean over its settings, so neither the
number of settings nor of cases on one side decides it.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from embeddings.encoder import load_encoder
from qa.answering.answerer import Answerer
from qa.answering.reader import CONFIG_FILE, READ_SENTENCES, READER_DIR, Decision, DecisionFeatures, Reader, ReaderStage
from qa.answering.scorer import LinearModel, ScoredAnswer, sigmoid
from qa.config import get_settings
from qa.evaluation.squad import TRAIN_ARTICLES, contains_gold, f1, load_squad
from qa.pipeline import QAPipeline
from training.answerer import HALVES, NEAR_MISS_POOL, ROOT, SQUAD, matrix, training_indexes
from training.reader.data import DEV_VALIDATION, SQUAD_DIR

NEWS_QUESTIONS = ROOT / "bench" / "data" / "news_dev_questions.jsonl"
SETTINGS = ("own", "other", "near", "squad2", "news_answerable", "news_unanswerable")
ANSWERABLE = ("own", "news_answerable")


@dataclass
class Row:
    """One window the reader read: the decision's features, and whether answering from it is right."""

    features: DecisionFeatures
    right: bool
    short_f1: float


@dataclass
class Case:
    group: str  # article (SQuAD) or "news"
    setting: str
    rows: list[Row]


Judge = Callable[[ScoredAnswer], tuple[bool, float]]


def always_answer(read_sentences: int) -> Decision:
    names = DecisionFeatures.names()
    zeros, ones = tuple(0.0 for _ in names), tuple(1.0 for _ in names)
    return Decision(LinearModel.fitted(names, zeros, 0.0, zeros, ones), 0.0, read_sentences)


def read_case(answerer: Answerer, stage: ReaderStage, question: str, hits: list, judge: Judge) -> list[Row]:
    """Every window the reader reads for `question` over `hits`, as `qa ask` would read them."""
    candidates = [] if answerer.unknown_names(question) else answerer.extractor.run(hits)
    scored = answerer.scorer.run(answerer.analyzer.run(question), candidates, answerer.idf)
    if not scored.ranked:
        return []
    reading, found = stage.read(question, scored, candidates)
    rows = []
    for r in found:
        right, short_f1 = judge(stage.answer(scored, reading, r, 1.0))
        rows.append(Row(r.features, right, short_f1))
    return rows


def squad_judge(answers: tuple[str, ...]) -> Judge:
    def judge(scored: ScoredAnswer) -> tuple[bool, float]:
        if not answers:
            return False, 0.0
        short = scored.short.text if scored.short else ""
        right = contains_gold(scored.best.text, answers) or (bool(short) and f1(short, answers) >= 0.5)
        return right, f1(short or scored.best.text, answers)

    return judge


def squad_cases(reader: Reader, top_k: int, read_sentences: int, limit: int = 0) -> list[Case]:
    settings = get_settings()
    encoder = load_encoder(settings.model, settings.backend, ROOT / ".qa" / "cache")
    documents, questions = load_squad(SQUAD, TRAIN_ARTICLES)
    answerers, retrievers = training_indexes(encoder, documents)
    stage = ReaderStage(reader, always_answer(read_sentences))
    by_context = {d.text: d.doc_id for d in documents}
    asks: list[tuple[str, int, str, tuple[str, ...], str]] = []  # (question, article, own half, answers, setting)
    for q in questions:
        if q.article in DEV_VALIDATION:
            asks.append((q.question, q.article, "A" if q.article in HALVES["A"] else "B", q.answers, "own"))
    for question, context in squad2_questions():
        doc_id = by_context.get(context)
        if doc_id is not None:
            article = int(doc_id.split("-")[0])
            asks.append((question, article, "A" if article in HALVES["A"] else "B", (), "squad2"))
    if limit:
        asks = asks[:: max(1, len(asks) // limit)]
    vectors = encoder.encode([a[0] for a in asks])
    cases: list[Case] = []
    for (question, article, own, answers, setting), vector in zip(asks, vectors, strict=True):
        for name in HALVES:
            if setting == "squad2" and name != own:
                continue
            hits = retrievers[name].run(question, top_k, query_vector=vector)
            variants = {setting if name == own else "other": hits}
            if name == own and setting == "own":
                wide = retrievers[name].run(question, top_k + NEAR_MISS_POOL, query_vector=vector)
                variants["near"] = [h for h in wide if not contains_gold(h.passage.text, answers)][:top_k]
            for variant, chosen in variants.items():
                judge = squad_judge(answers if variant == "own" else ())
                cases.append(Case(str(article), variant, read_case(answerers[name], stage, question, chosen, judge)))
    return cases


def squad2_questions() -> list[tuple[str, str]]:
    """(question, paragraph) of the SQuAD 2.0 unanswerable questions on dev articles 18-23."""
    dev = json.loads(SQUAD.read_text())["data"]
    names = {dev[a]["title"] for a in DEV_VALIDATION}
    found = []
    for article in json.loads((SQUAD_DIR / "dev-v2.0-training-half.json").read_text())["data"]:
        if article["title"] not in names:
            continue
        for paragraph in article["paragraphs"]:
            found += [(qa["question"], paragraph["context"]) for qa in paragraph["qas"] if qa.get("is_impossible")]
    return found


def news_cases(reader: Reader, index_dir: Path, read_sentences: int) -> list[Case]:
    pipeline = QAPipeline(get_settings(index_dir=index_dir, cache_dir=ROOT / ".qa" / "cache", reader=False))
    loaded = pipeline.loaded
    answerer: Answerer = loaded.answerer
    stage = ReaderStage(reader, always_answer(read_sentences))
    cases = []
    for line in NEWS_QUESTIONS.read_text().splitlines():
        row = json.loads(line)
        if row["half"] != "tune":
            continue
        hits = loaded.retriever.run(row["question"], pipeline.settings.top_k)
        answerable = row.get("answerable", True) is not False

        def judge(scored: ScoredAnswer, row: dict = row, hits: list = hits, answerable: bool = answerable) -> tuple[bool, float]:
            if not answerable:
                return False, 0.0
            text = ((scored.short.text + " ") if scored.short else "") + scored.best.text
            cited = {c.doc_id for c in answerer.citations.run(scored, hits)}
            return any(a.lower() in text.lower() for a in row["answers"]) and bool(cited & set(row["docs"])), 0.0

        setting = "news_answerable" if answerable else "news_unanswerable"
        cases.append(Case("news", setting, read_case(answerer, stage, row["question"], hits, judge)))
    return cases


def fit(cases: list[Case]) -> LinearModel:
    """Logistic regression over every window read: is answering from this window right?"""
    x = matrix([r.features for c in cases for r in c.rows])
    y = np.array([r.right for c in cases for r in c.rows])
    scaler = StandardScaler().fit(x)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    model = LogisticRegression(C=1.0, max_iter=2000).fit((x - scaler.mean_) / scale, y)
    return LinearModel.fitted(DecisionFeatures.names(), model.coef_[0], float(model.intercept_[0]), scaler.mean_, scale)


@dataclass
class Outcome:
    """A question's verdict: P(answer) of its likeliest window, and whether that window is right."""

    p: float
    right: bool
    short_f1: float


def outcomes(cases: list[Case], models: list[LinearModel]) -> list[Outcome]:
    """`models[i]` scores case i's windows; the likeliest one answers (as `ReaderStage.run`)."""
    out = []
    for case, model in zip(cases, models, strict=True):
        if not case.rows:
            out.append(Outcome(0.0, False, 0.0))
            continue
        p, row = max(((float(sigmoid(model.logit(r.features))), r) for r in case.rows), key=lambda pr: pr[0])
        out.append(Outcome(p, row.right, row.short_f1))
    return out


def per_setting(cases: list[Case], found: list[Outcome], threshold: float) -> dict[str, float]:
    """Share handled right per setting: answered right for answerable settings, declined otherwise."""
    out = {}
    for setting in SETTINGS:
        idx = [i for i, c in enumerate(cases) if c.setting == setting]
        if not idx:
            continue
        if setting in ANSWERABLE:
            out[setting] = float(np.mean([found[i].p >= threshold and found[i].right for i in idx]))
        else:
            out[setting] = float(np.mean([found[i].p < threshold for i in idx]))
    return out


def balanced(acc: dict[str, float]) -> float:
    """Mean of (answerable settings' mean, must-decline settings' mean)."""
    answer = [v for k, v in acc.items() if k in ANSWERABLE]
    decline = [v for k, v in acc.items() if k not in ANSWERABLE]
    return (float(np.mean(answer)) + float(np.mean(decline))) / 2


def cross_validated(cases: list[Case]) -> list[Outcome]:
    """Each SQuAD article's cases scored by a model fitted without them; news cases by folds of five."""
    groups = [c.group if c.group != "news" else f"news-{i % 5}" for i, c in enumerate(cases)]
    models: list[LinearModel | None] = [None] * len(cases)
    for g in sorted(set(groups)):
        model = fit([c for c, x in zip(cases, groups, strict=True) if x != g])
        for i, x in enumerate(groups):
            if x == g:
                models[i] = model
    return outcomes(cases, [m for m in models if m is not None])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--news-index", type=Path, default=ROOT / "bench" / "out" / "news-index")
    parser.add_argument("--read-sentences", type=int, default=READ_SENTENCES)
    parser.add_argument("--limit", type=int, default=0, help="a smoke run: about N SQuAD questions, spread over the set")
    parser.add_argument("--cache", type=Path, default=ROOT / "training" / "out" / "reader" / "decision_cases.json")
    args = parser.parse_args()
    started = time.perf_counter()
    reader = Reader()
    # ":per-window": cases written while the reader read its windows as one padded batch had other scores
    key = f"{reader.config['sha256']}:{args.read_sentences}:{','.join(DecisionFeatures.names())}:by-name:per-window"
    cached = json.loads(args.cache.read_text()) if args.cache.exists() and not args.limit else {}
    if cached.get("key") == key:
        cases = [
            Case(c["group"], c["setting"], [Row(DecisionFeatures(**r["features"]), r["right"], r["short_f1"]) for r in c["rows"]])
            for c in cached["cases"]
        ]
    else:
        cases = squad_cases(reader, get_settings().top_k, args.read_sentences, args.limit)
        print(f"{len(cases)} SQuAD cases read in {time.perf_counter() - started:.0f} s", flush=True)
        if (args.news_index / "CURRENT").exists():
            cases += news_cases(reader, args.news_index, args.read_sentences)
        else:
            print(f"no news index in {args.news_index}: news tune half left out")
        args.cache.parent.mkdir(parents=True, exist_ok=True)
        if not args.limit:
            args.cache.write_text(json.dumps({"key": key, "cases": [asdict(c) for c in cases]}))
    found = cross_validated(cases)
    print("threshold | " + " | ".join(SETTINGS))
    best, best_mean = 0.5, -1.0
    for t in np.arange(0.05, 0.96, 0.01):
        acc = per_setting(cases, found, float(t))
        mean = balanced(acc)
        if round(t * 100) % 5 == 0:
            print(f"  {t:.2f} | " + " | ".join(f"{acc.get(s, float('nan')):.3f}" for s in SETTINGS) + f" | mean {mean:.3f}")
        if mean > best_mean:
            best, best_mean = float(t), mean
    acc = per_setting(cases, found, best)
    own = [i for i, c in enumerate(cases) if c.setting == "own"]
    short_f1 = np.mean([found[i].short_f1 if found[i].p >= best else 0.0 for i in own])
    print(f"chosen threshold {best:.2f} (cross-validated by article): " + ", ".join(f"{k} {v:.3f}" for k, v in acc.items()))
    print(
        f"SQuAD validation (articles 18-23): short-answer F1 {short_f1:.3f} over {len(own)} answerable questions (0 when declined)"
    )
    model = fit(cases)
    config_path = READER_DIR / CONFIG_FILE
    config = json.loads(config_path.read_text())
    config["decision"] = {
        "fitted_on": "SQuAD v1.1 dev articles 18-23 (own/other/near), SQuAD 2.0 unanswerable on them, news dev tune half",
        "read_sentences": args.read_sentences,
        "threshold": round(best, 4),
        "cross_validated": {k: round(v, 4) for k, v in acc.items()},
        "model": model.to_dict(),
    }
    config_path.write_text(json.dumps(config, indent=1) + "\n")
    print("weights: " + ", ".join(f"{n} {w.coef:+.2f}" for n, w in model.weights.items()))
    print(f"wrote {config_path} in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
