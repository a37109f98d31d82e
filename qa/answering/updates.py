"""Developing stories: the newest report's answer first, earlier ones with their dates.

News reports the same event again as it develops ("at least 6 dead", days later "at least 20";
one adviser, then another). The cascade answers from whichever sentence reads best, which is often
the first report, because later ones repeat the story in fewer words. So once an answer is found,
this stage asks the same question again of the articles published after the answer's article
(retrieval filtered by date, inside the index) and lets the reader read them: every window the
fitted decision accepts is a report. The newest accepted report gives the answer; reports that
state a different answer, older ones, are shown with their dates as "earlier reports"; reports
that agree are corroboration, as before.

A later report must stand on its own: the decision accepts it (P ≥ its fitted threshold), it
is at least `CORROBORATION_MIN_RATIO` as likely as the first answer (the rule corroborating
outlets already meet), and its article names everything the question names that the first
answer's article names (the reader reads word pieces and will take "Port7 handled 9 million
tonnes" for Port3's figure; a later article about Port7 does not mention Port3). Time answers
are left alone: each is read against its own article's date.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from qa.answering.candidates import CandidateExtractor, SentenceCandidate
from qa.answering.citations import CORROBORATION_MIN_RATIO
from qa.answering.dates import names_a_time, publication_date
from qa.answering.question import AnswerKind, QuestionAnalysis, question_names
from qa.answering.reader import ReaderStage
from qa.answering.scorer import AnswerScorer, ScoredAnswer
from qa.retrieval import Hit
from qa.stores.base import IndexReader
from qa.text import term_set, terms

SearchSince = Callable[[date], list[Hit]]  # the question's retrieval, limited to articles published on or after a day
MAX_LATER_SEARCHES = 2  # each is one retrieval and one reader pass: the default of `QA_NEWER_REPORTS`
NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split()
    )
}
TOKEN_RE = re.compile(r"\d[\d,.]*\d|\d|\w+")
SKIPPED_KINDS = (AnswerKind.TIME, AnswerKind.DESCRIPTION)


def _tokens(text: str) -> list[str]:
    return [NUMBER_WORDS.get(t, t.replace(",", "")) for t in TOKEN_RE.findall(text.lower())]


def same_answer(a: str, b: str) -> bool:
    """Whether two short answers state the same thing: the same numbers when both give numbers
    ("at least 80" and "more than 80", "seven" and "7"), else most words of the shorter in the
    longer ("McMaster" and "H.R. McMaster")."""
    ta, tb = _tokens(a), _tokens(b)
    na, nb = {t for t in ta if t[0].isdigit()}, {t for t in tb if t[0].isdigit()}
    if na and nb:
        return na == nb
    wa, wb = set(ta), set(tb)
    return bool(wa and wb) and len(wa & wb) / min(len(wa), len(wb)) >= 0.5


@dataclass
class Report:
    """One article's accepted answer: its verdict, the passages it was read from, and its date."""

    scored: ScoredAnswer
    hits: list[Hit]
    published: date | None

    @property
    def short_text(self) -> str:
        return self.scored.short.text if self.scored.short else ""


@dataclass
class Reports:
    """The answer to give (`newest`) and the earlier reports that said something else, newest first."""

    newest: Report
    earlier: list[Report] = field(default_factory=list)


@dataclass
class NewerReports:
    """First answer + a date-filtered search → the newest report and the earlier differing ones."""

    index: IndexReader
    extractor: CandidateExtractor
    scorer: AnswerScorer
    reader: ReaderStage
    idf: Callable[[str], float]
    searches: int = MAX_LATER_SEARCHES

    def published(self, candidate: SentenceCandidate) -> date | None:
        return publication_date(self.index.documents[candidate.doc_id].published)

    def names(self, question: str, doc_id: str) -> frozenset[str]:
        """The terms of the names in `question` (its first word aside; days and months are when, not
        what the story is about) that the document mentions."""
        named = frozenset(t for name in question_names(question) if not names_a_time(name) for t in terms(name))
        return named & term_set(self.index.documents[doc_id].text)

    def accepted(self, question: str, analysis: QuestionAnalysis, hits: list[Hit], floor: float) -> list[Report]:
        """Every window of `hits` the reader's decision accepts with P ≥ `floor`, each as a report."""
        candidates = self.extractor.run(hits)
        scored = self.scorer.run(analysis, candidates, self.idf)
        if not scored.ranked:
            return []
        reading, found = self.reader.read(question, scored, candidates)
        reports = []
        for r in found:
            p = self.reader.probability(r)
            if p >= max(floor, self.reader.decision.threshold):
                verdict = self.reader.answer(scored, reading, r, p)
                if verdict.short is not None:
                    reports.append(Report(verdict, hits, self.published(verdict.best)))
        return reports

    def run(self, question: str, first: ScoredAnswer, hits: list[Hit], search_since: SearchSince | None) -> Reports:
        found = Reports(Report(first, hits, self.published(first.best) if first.ranked else None))
        if (
            search_since is None
            or self.searches <= 0
            or not first.answered
            or first.short is None
            or first.question.kind in SKIPPED_KINDS
            or found.newest.published is None
        ):
            return found
        floor = CORROBORATION_MIN_RATIO * first.answerable
        named = self.names(question, first.best.doc_id)

        def same_subject(report: Report) -> bool:
            return named <= term_set(self.index.documents[report.scored.best.doc_id].text)

        reports = [found.newest]
        reports += [
            r
            for r in (Report(o, hits, self.published(o.best)) for o in first.others if o.short is not None)
            if r.scored.answerable >= floor and same_subject(r)
        ]
        since = max(r.published for r in reports if r.published is not None)
        for _ in range(self.searches):
            later = [
                r
                for r in self.accepted(question, first.question, search_since(since + timedelta(days=1)), floor)
                if r.published is not None and r.published > since and same_subject(r)
            ]
            if not later:
                break
            reports.extend(later)
            since = max(r.published for r in later if r.published is not None)
        return self.sort(reports)

    @staticmethod
    def sort(reports: list[Report]) -> Reports:
        """The newest report (the likelier one on a tie) answers; one earlier report per differing
        answer, the newest of each, newest first. Reports of the newest one's own day are no
        "earlier" news, and a second reading of the answer's own article is not another report."""
        ordered = sorted(reports, key=lambda r: (r.published or date.min, r.scored.answerable), reverse=True)
        newest = ordered[0]
        earlier: list[Report] = []
        for report in ordered[1:]:
            if report.published is None or newest.published is None or report.published >= newest.published:
                continue
            if report.scored.best.doc_id == newest.scored.best.doc_id:
                continue
            if same_answer(report.short_text, newest.short_text):
                continue
            if any(same_answer(report.short_text, e.short_text) for e in earlier):
                continue
            earlier.append(report)
        return Reports(newest, earlier)
