"""Reader training examples from SQuAD: (question, window, answer offsets or none).

    .venv/bin/python -m training.reader.data      # writes training/out/reader/{train,validation}.jsonl

Split by article, as the shared README asks:
* fit: SQuAD v1.1 train (all 442 articles), SQuAD v1.1 dev articles 0-17, and the SQuAD 2.0
  questions (answerable and unanswerable) on those of the 17 SQuAD 2.0 articles that are among 0-17;
* validation: dev articles 18-23 (v1.1 questions and the SQuAD 2.0 questions on them);
* dev articles 24-47 are never opened here (asserted).

A window is one to three consecutive sentences of a paragraph with its article title
(`qa.answering.reader_format`), the form the answerer reads at answer time. Kinds:
* `answer`: a window holding the gold answer (extended at random by a sentence either side);
* `paragraph`: the sentences of the right paragraph that do not hold the answer, the window with
  the most question words chosen (the ranker's likeliest wrong pick);
* `article`: the same story, another paragraph: the question asked of an index that lacks its answer;
* `elsewhere`: the best window of another article by TF-IDF (a retrieved sentence of another document);
* `near_miss`: a SQuAD 2.0 unanswerable question with the windows of its paragraph that look most
  like an answer.

Training answer positions are first occurrences (about 11% may point at the wrong one): when the
answer text occurs more than once, the occurrence in the sentence sharing most question words is
taken.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa.ingest.chunking import split_sentences

ROOT = Path(__file__).resolve().parents[2]
SQUAD_DIR = ROOT.parent / "shared" / "bench" / "squad"
OUT = ROOT / "training" / "out" / "reader"
DEV_FIT = range(0, 18)
DEV_VALIDATION = range(18, 24)
WORD_RE = re.compile(r"\w+")


@dataclass
class Example:
    id: str
    kind: str  # answer, paragraph, article, elsewhere, near_miss
    question: str
    title: str
    sentences: list[str]
    answer: list[int] | None  # [sentence index, start, end] inside that sentence; None: no answer here
    answers: list[str]  # gold texts of the question (empty for SQuAD 2.0 unanswerable)
    source: str  # train, dev-v1, dev-v2
    article: str


@dataclass
class Paragraph:
    article: str
    title: str
    text: str
    sentences: list[tuple[int, int]]
    qas: list[dict]
    source: str


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """scikit-learn's English stop words. It is imported where it is used: importing it cost every
    pytest process 1.4 s, and the tests import this module (for `Example`)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def words(text: str) -> set[str]:
    stop = stop_words()
    return {w for w in WORD_RE.findall(text.lower()) if w not in stop}


def load_paragraphs(path: Path, source: str, articles: range | None, names: set[str] | None = None) -> list[Paragraph]:
    data = json.loads(path.read_text())["data"]
    chosen = []
    for a, article in enumerate(data):
        if articles is not None and a not in articles:
            continue
        if names is not None and article["title"] not in names:
            continue
        title = article["title"].replace("_", " ")
        for paragraph in article["paragraphs"]:
            text = paragraph["context"]
            # SQuAD 2.0's answerable questions repeat v1.1's: only its unanswerable ones are new
            qas = [qa for qa in paragraph["qas"] if source != "dev-v2" or qa.get("is_impossible")]
            chosen.append(Paragraph(f"{source}:{article['title']}", title, text, split_sentences(text), qas, source))
    return chosen


def sentence_index(sentences: list[tuple[int, int]], offset: int) -> int | None:
    for i, (s, e) in enumerate(sentences):
        if s <= offset < e:
            return i
    return None


def locate(p: Paragraph, qa: dict) -> tuple[int, int, str] | None:
    """(start, end, text) of the answer in the paragraph, the occurrence nearest the question's words."""
    answer = qa["answers"][0]
    text, start = answer["text"], int(answer["answer_start"])
    if p.text[start : start + len(text)] != text:
        start = p.text.find(text)
        if start < 0:
            return None
    if p.source == "train" and p.text.count(text) > 1:
        q = words(qa["question"])

        def overlap(at: int) -> int:
            i = sentence_index(p.sentences, at)
            return -1 if i is None else len(q & words(p.text[slice(*p.sentences[i])]))

        occurrences = [m.start() for m in re.finditer(re.escape(text), p.text)]
        start = max(occurrences, key=lambda at: (overlap(at), -at))
    return start, start + len(text), text


def windows_without(p: Paragraph, golds: list[str], width: int) -> list[tuple[int, int]]:
    """(first, last) sentence ranges of `width` sentences that hold none of the gold texts."""
    found = []
    lowered = [g.lower() for g in golds if g]
    for i in range(len(p.sentences) - width + 1):
        text = p.text[p.sentences[i][0] : p.sentences[i + width - 1][1]].lower()
        if not any(g in text for g in lowered):
            found.append((i, i + width - 1))
    return found


def best_window(p: Paragraph, question: set[str], golds: list[str], rng: random.Random) -> tuple[int, int] | None:
    candidates = windows_without(p, golds, rng.choice((1, 1, 2)))
    if not candidates:
        return None
    return max(candidates, key=lambda w: (len(question & words(p.text[p.sentences[w[0]][0] : p.sentences[w[1]][1]])), -w[0]))


def texts(p: Paragraph, first: int, last: int) -> list[str]:
    return [p.text[s:e] for s, e in p.sentences[first : last + 1]]


def answer_example(p: Paragraph, qa: dict, rng: random.Random) -> Example | None:
    located = locate(p, qa)
    if located is None:
        return None
    a0, a1, text = located
    first, last = sentence_index(p.sentences, a0), sentence_index(p.sentences, a1 - 1)
    if first is None or last is None or last - first > 1:
        return None
    if rng.random() < 0.35 and first > 0:
        first -= 1
    if rng.random() < 0.25 and last + 1 < len(p.sentences) and last - first < 2:
        last += 1
    i = sentence_index(p.sentences, a0)
    assert i is not None
    start = a0 - p.sentences[i][0]
    return Example(
        qa["id"], "answer", qa["question"], p.title, texts(p, first, last), [i - first, start, start + len(text)],
        [a["text"] for a in qa["answers"]], p.source, p.article,
    )  # fmt: skip


def negative(p: Paragraph, qa: dict, kind: str, rng: random.Random) -> Example | None:
    golds = [a["text"] for a in qa["answers"]]
    window = best_window(p, words(qa["question"]), golds, rng)
    if window is None:
        return None
    return Example(qa["id"], kind, qa["question"], p.title, texts(p, *window), None, golds, p.source, p.article)


def build(paragraphs: list[Paragraph], rng: random.Random, shares: dict[str, float]) -> Iterator[Example]:
    by_article: dict[str, list[int]] = {}
    for n, p in enumerate(paragraphs):
        by_article.setdefault(p.article, []).append(n)
    elsewhere = elsewhere_index(paragraphs)
    for n, p in enumerate(paragraphs):
        for qa in p.qas:
            if qa.get("is_impossible"):
                for _ in range(2):  # the windows of its paragraph that look most like an answer
                    ex = negative(p, qa, "near_miss", rng)
                    if ex is not None:
                        yield ex
                continue
            ex = answer_example(p, qa, rng)
            if ex is not None:
                yield ex
            if rng.random() < shares["paragraph"]:
                ex = negative(p, qa, "paragraph", rng)
                if ex is not None:
                    yield ex
            siblings = [m for m in by_article[p.article] if m != n]
            if siblings and rng.random() < shares["article"]:
                q = words(qa["question"])
                other = max(rng.sample(siblings, min(12, len(siblings))), key=lambda m: len(q & words(paragraphs[m].text)))
                ex = negative(paragraphs[other], qa, "article", rng)
                if ex is not None:
                    yield ex
            if rng.random() < shares["elsewhere"]:
                m = elsewhere(qa["question"], p.article)
                if m is not None:
                    ex = negative(paragraphs[m], qa, "elsewhere", rng)
                    if ex is not None:
                        yield ex


def elsewhere_index(paragraphs: list[Paragraph]):
    """The paragraph of another article most like a question (TF-IDF cosine), looked up lazily."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True, min_df=2, dtype=np.float32)
    matrix = vectorizer.fit_transform([p.text for p in paragraphs])
    articles = np.array([p.article for p in paragraphs])

    def lookup(question: str, article: str) -> int | None:
        scores = (matrix @ vectorizer.transform([question]).T).toarray().ravel()
        scores[articles == article] = -1
        best = int(np.argmax(scores))
        return best if scores[best] > 0 else None

    return lookup


def write(path: Path, examples: list[Example]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        for ex in examples:
            fh.write(json.dumps(asdict(ex)) + "\n")


def read(path: Path) -> list[Example]:
    return [Example(**json.loads(line)) for line in path.read_text().splitlines()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--paragraph-share", type=float, default=0.5)
    parser.add_argument("--article-share", type=float, default=0.25)
    parser.add_argument("--elsewhere-share", type=float, default=0.1)
    args = parser.parse_args()
    started = time.perf_counter()
    rng = random.Random(args.seed)
    shares = {"paragraph": args.paragraph_share, "article": args.article_share, "elsewhere": args.elsewhere_share}
    v2 = json.loads((SQUAD_DIR / "dev-v2.0-training-half.json").read_text())["data"]
    dev = json.loads((SQUAD_DIR / "dev-v1.1.json").read_text())["data"]
    fit_names = {dev[a]["title"] for a in DEV_FIT}
    validation_names = {dev[a]["title"] for a in DEV_VALIDATION}
    assert not {a["title"] for a in v2} - fit_names - validation_names, "SQuAD 2.0 half outside dev articles 0-23"
    fit = (
        load_paragraphs(SQUAD_DIR / "train-v1.1.json", "train", None)
        + load_paragraphs(SQUAD_DIR / "dev-v1.1.json", "dev-v1", DEV_FIT)
        + load_paragraphs(SQUAD_DIR / "dev-v2.0-training-half.json", "dev-v2", None, fit_names)
    )
    validation = load_paragraphs(SQUAD_DIR / "dev-v1.1.json", "dev-v1", DEV_VALIDATION) + load_paragraphs(
        SQUAD_DIR / "dev-v2.0-training-half.json", "dev-v2", None, validation_names
    )
    print(
        f"{len(fit)} fit paragraphs, {len(validation)} validation paragraphs ({time.perf_counter() - started:.0f} s)", flush=True
    )
    train_examples = list(build(fit, rng, shares))
    rng.shuffle(train_examples)
    validation_examples = list(
        build(validation, random.Random(args.seed + 1), {"paragraph": 1.0, "article": 0.5, "elsewhere": 0.2})
    )
    write(OUT / "train.jsonl", train_examples)
    write(OUT / "validation.jsonl", validation_examples)
    for name, examples in (("train", train_examples), ("validation", validation_examples)):
        counts: dict[str, int] = {}
        for ex in examples:
            counts[ex.kind] = counts.get(ex.kind, 0) + 1
        print(f"{name}: {len(examples)} examples " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
