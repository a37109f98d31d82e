"""SQuAD v1.1: loading by article half, and the official answer normalisation, EM and F1.

Used by the answerer's training script, the quality benchmark and the out-of-domain test gate.
Articles 0-23 (file order) are for training and tuning; 24-47 are for evaluation only.
"""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from qa.ingest.sources import Document, make_document

TRAIN_ARTICLES = range(0, 24)
EVAL_ARTICLES = range(24, 48)


@dataclass(frozen=True)
class SquadQuestion:
    id: str
    question: str
    answers: tuple[str, ...]
    doc_id: str  # the paragraph it was written on
    article: int


def load_squad(path: Path, articles: range) -> tuple[list[Document], list[SquadQuestion]]:
    """Each paragraph of the chosen articles is a document titled by its article."""
    data = json.loads(path.read_text())["data"]
    documents: list[Document] = []
    questions: list[SquadQuestion] = []
    for a in articles:
        article = data[a]
        title = article["title"].replace("_", " ")
        for p, paragraph in enumerate(article["paragraphs"]):
            doc = make_document(f"{a}-{p}", paragraph["context"], {"title": title}, None)
            if doc is None:
                continue
            documents.append(doc)
            for qa in paragraph["qas"]:
                questions.append(SquadQuestion(qa["id"], qa["question"], tuple(x["text"] for x in qa["answers"]), doc.doc_id, a))
    return documents, questions


def normalize_answer(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces (the official SQuAD script)."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(prediction: str, golds: tuple[str, ...] | list[str]) -> float:
    return float(any(normalize_answer(prediction) == normalize_answer(g) for g in golds))


def f1(prediction: str, golds: tuple[str, ...] | list[str]) -> float:
    def one(gold: str) -> float:
        p, g = normalize_answer(prediction).split(), normalize_answer(gold).split()
        common = sum((Counter(p) & Counter(g)).values())
        if not common:
            return 0.0
        precision, recall = common / len(p), common / len(g)
        return 2 * precision * recall / (precision + recall)

    return max((one(g) for g in golds), default=0.0)


def contains_gold(text: str | None, golds: tuple[str, ...] | list[str]) -> bool:
    lowered = (text or "").lower()
    return any(g.lower() in lowered for g in golds)
