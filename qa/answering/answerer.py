"""The answer pipeline, stage by stage: question analysis → candidates → scorer → citations.

Each stage is a small component with one `run` method and typed inputs and outputs; this class
only connects them and turns the verdict into the `Answer` every front end shows.
"""

from __future__ import annotations

from dataclasses import asdict

from qa.answering.candidates import CandidateExtractor, SentenceCandidate
from qa.answering.citations import CitationBuilder
from qa.answering.dates import ResolvedDate, day_label, describe, names_a_time, publication_date, resolve_in
from qa.answering.question import AnswerKind, QuestionAnalysis, QuestionAnalyzer, question_names
from qa.answering.reader import ReaderStage
from qa.answering.scorer import AnswerScorer, ScoredAnswer, ScorerModel
from qa.answering.updates import MAX_LATER_SEARCHES, NewerReports, Report, Reports, SearchSince
from qa.retrieval import Hit
from qa.schema import Answer, Citation, EarlierReport, ResolvedTime
from qa.stores.base import IndexReader, bm25_idf
from qa.text import terms

Given = tuple[str, int, int, str | None]  # (doc_id, start, end, short answer) of an earlier answer
MAX_AVOIDED = 3
DECLINE_MESSAGE = "I couldn't find an answer to that in the indexed articles. Try rephrasing, or ask about something they cover."


class Answerer:
    """Picks the answer from retrieved passages, or declines."""

    def __init__(
        self,
        index: IndexReader,
        model: ScorerModel | None = None,
        reader: ReaderStage | None = None,
        later_searches: int = MAX_LATER_SEARCHES,
    ) -> None:
        """`reader`: the neural reader as the last stage (None: the feature scorer decides alone).
        `later_searches`: how many times to look for newer reports of a developing story (0: never);
        it needs the reader, which judges them."""
        self.index = index
        self._n = max(index.passage_count, 1)
        self.analyzer = QuestionAnalyzer()
        self.extractor = CandidateExtractor(index)
        self.scorer = AnswerScorer(model)
        self.reader = reader
        self.citations = CitationBuilder(index)
        self.updates = (
            NewerReports(index, self.extractor, self.scorer, reader, self.idf, later_searches) if reader is not None else None
        )

    def idf(self, term: str) -> float:
        return bm25_idf(self.index.passage_freq.get(term, 0), self._n)

    def unknown_names(self, question: str) -> list[str]:
        """Capitalised words of the question (not its first word) that no indexed passage contains."""
        return [w for w in question_names(question) if any(self.index.passage_freq.get(t, 0) == 0 for t in terms(w))]

    def score(self, question: str, hits: list[Hit], avoid: set[Given] | None = None, read: bool = True) -> ScoredAnswer:
        """The scorer's verdict without building citations.

        `avoid` holds answers already given in this conversation (evidence sentence and short
        answer): a follow-up that would get the same answer again gets the next best instead.
        """
        analysis = self.analyzer.run(question)
        if self.unknown_names(question):
            candidates = []  # the question names something no indexed article mentions: nothing can answer it
        else:
            candidates = self.extractor.run(hits)
        scored = self.verdict(question, analysis, candidates, read)
        for _ in range(MAX_AVOIDED):
            if not avoid or not scored.ranked:
                break
            best = scored.best
            short = scored.short.text.lower() if scored.short else None
            same_sentence = {g[3] for g in avoid if g[:3] == (best.doc_id, best.start, best.end)}
            if not same_sentence or (short is not None and short not in same_sentence):
                break  # new evidence, or a new short answer from the same sentence ("When was that?")
            candidates = [c for c in candidates if c is not best]
            scored = self.verdict(question, analysis, candidates, read)
        return scored

    def verdict(
        self, question: str, analysis: QuestionAnalysis, candidates: list[SentenceCandidate], read: bool = True
    ) -> ScoredAnswer:
        """The scorer ranks the candidates; the reader, when on and asked to, reads the best and decides."""
        scored = self.scorer.run(analysis, candidates, self.idf)
        return self.reader.run(question, scored, candidates) if self.reader is not None and read else scored

    def run(
        self,
        question: str,
        hits: list[Hit],
        focus: str | None = None,
        avoid: set[Given] | None = None,
        read: bool = True,
        search_since: SearchSince | None = None,
    ) -> Answer:
        """`question` is what the user asked, references resolved; `focus` the user's own words.

        `read=False` leaves the reader out: a follow-up such as "When was that?" carries its topic
        only as the previous question appended, which the reader (trained on single questions)
        answers as if it were asked again; the feature scorer weighs those words as context.
        `search_since` retrieves for the question among articles published from a given day: with
        it, a developing story is answered from its newest report (`qa.answering.updates`).
        """
        asked = focus or question
        scored = self.score(question, hits, avoid, read)
        if not scored.answered:
            return Answer(
                question=asked,
                answer=None,
                answered=False,
                message=DECLINE_MESSAGE,
                citations=[],
                short_answer=None,
                short_start=None,
                short_end=None,
                kind=scored.question.kind.value,
                confidence=round(scored.answerable, 4),
            )
        reports = (
            self.updates.run(question, scored, hits, search_since if read else None)
            if self.updates is not None
            else Reports(Report(scored, hits, None))
        )
        scored = reports.newest.scored
        citations = self.citations.run(scored, reports.newest.hits)
        markers = "".join(f"[{c.n}]" for c in citations)
        earlier = self.earlier_reports(reports, citations)
        evidence = scored.best.text
        short = scored.short
        resolved = self.resolve_time(scored, citations)
        lead = (describe(resolved) if resolved else short.text) if short else None
        text = f"{lead} — {evidence} {markers}" if lead else f"{evidence} {markers}"
        if earlier:
            text += (
                " Earlier reports: " + "; ".join(f"{e.short_answer} ({day_label(e.published)}) [{e.n}]" for e in earlier) + "."
            )
        return Answer(
            question=asked,
            answer=text,
            answered=True,
            message=None,
            citations=citations,
            short_answer=short.text if short else None,
            short_start=short.start if short else None,
            short_end=short.end if short else None,
            headline=lead,
            resolved=ResolvedTime(**asdict(resolved)) if resolved else None,
            earlier=earlier,
            kind=scored.question.kind.value,
            confidence=round(scored.answerable, 4),
        )

    def earlier_reports(self, reports: Reports, citations: list[Citation]) -> list[EarlierReport]:
        """Each earlier differing report as a numbered citation after the answer's own (appended to `citations`)."""
        earlier = []
        for report in reports.earlier:
            if report.published is None or report.scored.short is None:
                continue
            n = len(citations) + 1
            citations.append(self.citations.citation(n, report.scored.best, report.hits))
            earlier.append(EarlierReport(short_answer=report.scored.short.text, published=report.published.isoformat(), n=n))
        return earlier

    def resolve_time(self, scored: ScoredAnswer, citations: list[Citation]) -> ResolvedDate | None:
        """A time answer's span read against its story's date: the earliest date among the copies
        the first citation folds together, since a repost carries the original's date or a later one."""
        kind = scored.question.kind
        if scored.short is None or not citations:
            return None
        if kind is not AnswerKind.TIME and (kind is AnswerKind.QUANTITY or not names_a_time(scored.short.text)):
            return None  # a count or duration ("two years") is not a date
        dates = sorted(p for p in (publication_date(s.published) for s in citations[0].sources) if p)
        if not dates:
            return None
        best, short = scored.best, scored.short
        return resolve_in(best.text, short.start - best.start, short.end - best.start, dates[0].isoformat())
