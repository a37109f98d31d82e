"""Candidate answers: every sentence of the retrieved passages, with the entity and noun-phrase
spans inside it (tagged at index time by `qa.ner`).

A sentence is the evidence a citation quotes; a span is a possible short answer. Nothing here
judges them: `qa.answering.features` describes them and `qa.answering.scorer` weighs them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cachetools import LRUCache, cachedmethod

from qa.retrieval import Hit
from qa.stores.base import IndexReader


@dataclass(slots=True)
class SpanCandidate:
    start: int  # offsets into the document text
    end: int
    label: str  # spaCy entity label, or "NP"
    text: str
    score: float = 0.0  # probability that this span is the short answer (set by the scorer)


@dataclass(slots=True)
class SentenceCandidate:
    hit: Hit
    rank: int  # of its passage among the retrieved ones, 0 first
    doc_id: str
    start: int
    end: int
    text: str
    position: int  # index of the sentence in its passage
    title: str
    caseless: bool  # the document has no capital letters: names cannot be told by case
    spans: list[SpanCandidate] = field(default_factory=list)
    score: float = 0.0  # probability that the sentence holds the answer (set by the scorer)
    logit: float = 0.0


FRAGMENT_START_RE = re.compile(
    r"^(with|including|from|at|for|to|of|in|by|about|than|after|before|and|or|but|which|who)\b", re.IGNORECASE
)


def is_fragment(sentence: str) -> bool:
    """A piece cut off the sentence before it by stray punctuation ("... drones. With a range of ...")."""
    n_words = len(sentence.split())
    return n_words < 4 or (n_words < 15 and bool(FRAGMENT_START_RE.match(sentence)))


def is_caseless(text: str) -> bool:
    """A document property: lower-cased scrapes hide names, so the scorer is told."""
    letters = [c for c in text[:2000] if c.isalpha()]
    return bool(letters) and not any(c.isupper() for c in letters)


class CandidateExtractor:
    """Retrieved passages → sentence candidates, each with the spans inside it."""

    def __init__(self, index: IndexReader) -> None:
        self.index = index
        self._caseless: LRUCache[str, bool] = LRUCache(maxsize=10_000)

    @cachedmethod(lambda self: self._caseless)
    def caseless(self, doc_id: str) -> bool:
        return is_caseless(self.index.documents[doc_id].text)

    def run(self, hits: list[Hit]) -> list[SentenceCandidate]:
        candidates: list[SentenceCandidate] = []
        for rank, hit in enumerate(hits):
            passage = hit.passage
            doc = self.index.documents[passage.doc_id]
            sentences = list(passage.sentences)
            for (s1, e1), (s2, e2) in zip(passage.sentences, passage.sentences[1:], strict=False):
                if "\n" not in doc.text[e1:s2] and is_fragment(doc.text[s2:e2]):
                    sentences.append((s1, e2))  # the fragment joined to the sentence it belongs to
            for position, (start, end) in enumerate(sentences):
                spans = [SpanCandidate(s, e, label, doc.text[s:e]) for s, e, label in passage.spans if s >= start and e <= end]
                candidates.append(
                    SentenceCandidate(
                        hit,
                        rank,
                        doc.doc_id,
                        start,
                        end,
                        doc.text[start:end],
                        position,
                        doc.title,
                        self.caseless(doc.doc_id),
                        spans,
                    )
                )
        return candidates
