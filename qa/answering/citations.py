"""Citations: the evidence sentence, the same story's reposts, and other outlets that agree.

Links: the core gives each citation only the document's own URL (or None); front ends make
viewer links with `qa.links.LinkBuilder`.

* A repost (another document telling the same story, mostly in the same words) is not a second
  witness: its matching sentence becomes an extra `source` of the one citation.
* A different story whose own candidate sentence states the same short answer, and which the
  sentence model scores at least half as likely to answer as the cited one, is corroboration: it gets its own number
  ([1][2]), because agreement across outlets is what a newsroom trusts.
"""

from __future__ import annotations

from qa.answering.candidates import SentenceCandidate
from qa.answering.scorer import ScoredAnswer
from qa.ingest.sources import Document
from qa.retrieval import Hit
from qa.schema import Citation, Source
from qa.stores.base import IndexReader
from qa.text import term_set

SAME_STORY_OVERLAP = 0.65  # shared-term share of two whole documents: one story, two outlets
DUPLICATE_OVERLAP = 0.5  # ... and of the answer sentence and its counterpart in the repost
CORROBORATION_MIN_RATIO = 0.5  # the other sentence must score at least half the best one's probability
MAX_CITATIONS = 3


class CitationBuilder:
    """ScoredAnswer + retrieved passages → numbered citations."""

    def __init__(self, index: IndexReader) -> None:
        self.index = index

    def same_story(self, doc_a: str, doc_b: str) -> bool:
        # term_set is cached by text, so a document's terms are computed once
        a, b = term_set(self.index.documents[doc_a].text), term_set(self.index.documents[doc_b].text)
        return bool(a and b) and len(a & b) / min(len(a), len(b)) >= SAME_STORY_OVERLAP

    def run(self, scored: ScoredAnswer, hits: list[Hit]) -> list[Citation]:
        best = scored.best
        citations = [self.citation(1, best, hits)]
        if scored.short is None:
            return citations
        wanted = scored.short.text.lower()
        cited_docs = [best.doc_id]
        for candidate in scored.ranked:
            if len(citations) >= MAX_CITATIONS:
                break
            if candidate.score < CORROBORATION_MIN_RATIO * best.score or wanted not in candidate.text.lower():
                continue
            if any(candidate.doc_id == d or self.same_story(candidate.doc_id, d) for d in cited_docs):
                continue
            cited_docs.append(candidate.doc_id)
            citations.append(self.citation(len(citations) + 1, candidate, hits))
        return citations

    def _source(self, doc: Document, start: int, end: int) -> Source:
        return Source(
            doc_id=doc.doc_id,
            title=doc.title,
            url=doc.url,
            published=doc.published,
            publisher=doc.publisher,
            passage=doc.text[start:end],
            start=start,
            end=end,
        )

    def citation(self, n: int, candidate: SentenceCandidate, hits: list[Hit]) -> Citation:
        doc = self.index.documents[candidate.doc_id]
        sources = [self._source(doc, candidate.start, candidate.end)]
        answer_terms = term_set(candidate.text)
        for hit in hits:
            other = self.index.documents[hit.passage.doc_id]
            if any(s.doc_id == other.doc_id for s in sources) or not self.same_story(doc.doc_id, other.doc_id):
                continue
            match = self.duplicate_sentence(answer_terms, hit)
            if match:
                sources.append(self._source(other, *match))
        return Citation(
            n=n,
            doc_id=doc.doc_id,
            title=doc.title,
            url=sources[0].url,
            published=doc.published,
            passage=candidate.text,
            start=candidate.start,
            end=candidate.end,
            score=round(candidate.score, 4),
            sources=sources,
        )

    def duplicate_sentence(self, answer_terms: frozenset[str], hit: Hit) -> tuple[int, int] | None:
        """The sentence of `hit` telling the same thing as the answer, if the story was reposted."""
        doc_text = self.index.documents[hit.passage.doc_id].text
        best, best_overlap = None, DUPLICATE_OVERLAP
        for start, end in hit.passage.sentences:
            sentence_terms = term_set(doc_text[start:end])
            smaller = min(len(sentence_terms), len(answer_terms))
            if smaller < 5:
                continue
            overlap = len(sentence_terms & answer_terms) / smaller
            if overlap >= best_overlap:
                best, best_overlap = (start, end), overlap
        return best
