"""Developing stories: the newest report answers, earlier differing ones are listed with their dates.

Invented articles, not from any corpus: a flood whose toll rises between reports, a ferry story
that nothing later revisits, and an undated report.
"""

from __future__ import annotations

import pytest
from helpers import invented_pipeline

from qa.answering.updates import same_answer
from qa.daterange import DateRange
from qa.pipeline import QAPipeline

ARTICLES = {
    "flood-1": (
        "Floods sweep through the Vellmar valley",
        "At least 6 people died when floods swept through the Vellmar valley on Sunday, the regional governor said. "
        "Rescue teams searched villages along the river through the night.",
    ),
    "flood-2": (
        "Vellmar valley flood toll rises",
        "The number of people who died in the Vellmar valley floods has risen to 23, the regional governor said on "
        "Wednesday. Hundreds of homes along the river were destroyed.",
    ),
    "flood-3": (
        "Vellmar valley begins to rebuild after floods",
        "Volunteers began clearing mud from houses in the Vellmar valley, where 23 people died in the floods. "
        "The regional governor promised new flood defences along the river.",
    ),
    "ferry": (
        "Island ferry service to resume",
        "The Kestrel island ferry will resume service on 14 June after a winter of repairs, the operator said. "
        "Tickets for the Kestrel ferry will cost 9 euros for adults.",
    ),
    "port3": (
        "Record cargo at the Port3 harbour",
        "The harbour of Port3 handled a record 5 million tonnes of cargo this year, the harbour authority said.",
    ),
    "port7": (
        "Record cargo at the Port7 harbour",
        "The harbour of Port7 handled a record 9 million tonnes of cargo this year, the harbour authority said.",
    ),
    "parade": (
        "Harbour festival draws crowds",
        "Thousands of visitors watched the harbour festival parade in Orlamund on Saturday. "
        "The festival's fireworks lasted 20 minutes.",
    ),
}
PUBLISHED = {
    "flood-1": "2031-04-02",
    "flood-2": "2031-04-05",
    "flood-3": "2031-04-09",
    "ferry": "2031-03-01",
    "parade": "2031-04-20",
    "port3": "2031-05-01",
    "port7": "2031-06-01",
}
TOLL = "How many people died in the Vellmar valley floods?"
FIRST_REPORT_WORDS = "How many people died when floods swept through the Vellmar valley on Sunday?"


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, encoder) -> QAPipeline:
    return invented_pipeline(ARTICLES, tmp_path_factory.mktemp("updates"), encoder, PUBLISHED)


@pytest.fixture(scope="module")
def narrow(tmp_path_factory, encoder) -> QAPipeline:
    """One passage a question: whatever is newer than the first answer can only come from the later search."""
    return invented_pipeline(ARTICLES, tmp_path_factory.mktemp("narrow"), encoder, PUBLISHED, top_k=1)


def test_same_answer_compares_numbers_and_names():
    assert same_answer("at least 80", "more than 80")
    assert same_answer("seven", "7 countries")
    assert same_answer("H.R. McMaster", "McMaster")
    assert not same_answer("at least 6", "23")
    assert not same_answer("seven", "six")
    assert not same_answer("Michael Flynn", "Keith Kellogg")


def test_the_newest_report_answers_and_the_earlier_toll_is_listed_with_its_date(pipeline):
    answer = pipeline.ask(TOLL)
    assert answer.answered and answer.short_answer == "23"
    assert answer.citations[0].doc_id == "flood-3"
    assert [(e.short_answer, e.published) for e in answer.earlier] == [("6", "2031-04-02")]
    earlier = answer.earlier[0]
    assert {c.n: c.doc_id for c in answer.citations}[earlier.n] == "flood-1"
    assert f"Earlier reports: 6 (2 Apr 2031) [{earlier.n}]." in (answer.answer or "")


def test_reports_that_agree_corroborate_instead_of_being_listed(pipeline):
    answer = pipeline.ask(TOLL)
    assert [c.doc_id for c in answer.citations][:2] == ["flood-3", "flood-2"]  # both say 23: [1][2]
    assert len(answer.earlier) == 1


def test_a_newer_report_found_by_the_later_search_replaces_the_first_answer(narrow, tmp_path, encoder):
    answer = narrow.ask(FIRST_REPORT_WORDS)
    assert answer.short_answer == "23" and answer.citations[0].doc_id in {"flood-2", "flood-3"}
    assert [(e.short_answer, e.published) for e in answer.earlier] == [("6", "2031-04-02")]
    off = invented_pipeline(ARTICLES, tmp_path, encoder, PUBLISHED, top_k=1, newer_reports=0).ask(FIRST_REPORT_WORDS)
    assert off.short_answer == "6" and off.citations[0].doc_id == "flood-1" and off.earlier == []


def test_a_date_filter_bounds_the_search_for_newer_reports(narrow):
    answer = narrow.ask(FIRST_REPORT_WORDS, dates=DateRange.parse(None, "2031-04-04"))
    assert answer.short_answer == "6" and answer.citations[0].doc_id == "flood-1"
    assert answer.earlier == []


def test_a_later_article_on_another_topic_does_not_replace_an_answer(narrow):
    answer = narrow.ask("How much will a ticket for the Kestrel island ferry cost adults?")
    assert answer.answered and answer.citations[0].doc_id == "ferry"
    assert answer.short_answer == "9 euros" and answer.earlier == []


def test_time_answers_are_read_against_their_own_article(narrow):
    answer = narrow.ask("When did floods sweep through the Vellmar valley?")
    assert answer.resolved is not None and answer.resolved.value == "2031-03-30"
    assert answer.citations[0].doc_id == "flood-1" and answer.earlier == []


def test_a_later_report_about_another_place_of_the_same_kind_is_not_a_newer_report(narrow):
    """Templated reports differ in one name; the reader alone would take Port7's figure for Port3's."""
    answer = narrow.ask("How much cargo did the harbour of Port3 handle this year?")
    assert answer.answered and answer.citations[0].doc_id == "port3"
    assert answer.short_answer is not None and "5 million" in answer.short_answer and answer.earlier == []
