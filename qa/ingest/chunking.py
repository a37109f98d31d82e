"""Split a cleaned document into passages of whole sentences, with character offsets.

Passages are what retrieval ranks; the sentences inside them are what the answerer quotes, so
each passage keeps its sentence boundaries. Offsets are into `Document.text`, so
`doc.text[p.start:p.end] == p.text` always holds and a citation link can highlight the exact span.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import pysbd


@dataclass(slots=True)
class Passage:
    id: str
    doc_id: str
    start: int
    end: int
    text: str
    sentences: list[tuple[int, int]] = field(default_factory=list)  # absolute offsets
    spans: list[tuple[int, int, str]] = field(default_factory=list)  # entities and noun phrases (qa.ingest.tagging), absolute


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans (start, end) over `text`, never crossing a line break."""
    spans: list[tuple[int, int]] = []
    offset = 0
    for line in text.split("\n"):
        cursor = 0
        for piece in _segmenter().segment(line) if line.strip() else []:
            piece = piece.strip()
            if not piece:
                continue
            found = line.find(piece, cursor)
            if found < 0:  # the segmenter altered the text; fall back to the rest of the line
                found, piece = cursor, line[cursor:].strip()
            spans.append((offset + found, offset + found + len(piece)))
            cursor = found + len(piece)
        offset += len(line) + 1
    return [s for s in spans if s[1] > s[0]]


def chunk_document(doc_id: str, text: str, max_chars: int) -> list[Passage]:
    """Greedy packing of consecutive sentences into passages of at most `max_chars`."""
    passages: list[Passage] = []
    group: list[tuple[int, int]] = []

    def flush() -> None:
        if group:
            start, end = group[0][0], group[-1][1]
            passages.append(Passage(f"{doc_id}:{start}", doc_id, start, end, text[start:end], list(group)))
            group.clear()

    for span in split_sentences(text):
        if group and span[1] - group[0][0] > max_chars:
            flush()
        group.append(span)
    flush()
    return passages
