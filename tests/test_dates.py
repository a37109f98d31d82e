"""Time answers resolved against the publication date, on invented sentences (none from the corpora).

Friday 3 March 2017 is the publication day throughout unless a test says otherwise.
"""

from __future__ import annotations

import pytest

from qa.answering.dates import describe, direction_of, names_a_time, publication_date, resolve, resolve_in

FRIDAY = "2017-03-03"


def value(expression: str, sentence: str = "", published: str | None = FRIDAY) -> tuple[str, str] | None:
    resolved = resolve(expression, sentence or f"It happened {expression}, the council said.", published)
    return (resolved.value, resolved.granularity) if resolved else None


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("last year", ("2016", "year")),
        ("this year", ("2017", "year")),
        ("next year", ("2018", "year")),
        ("late last year", ("2016", "year")),
        ("two years ago", ("2015", "year")),
        ("November last year", ("2016-11", "month")),
    ],
)
def test_relative_years(expression, expected):
    assert value(expression) == expected


def test_a_relative_year_moves_with_the_publication_date():
    assert value("last year", published="2017-01-02") == ("2016", "year")
    assert value("last year", published="2016-12-30") == ("2015", "year")


@pytest.mark.parametrize(
    ("expression", "sentence", "expected"),
    [
        ("on Tuesday", "The mayor resigned on Tuesday.", ("2017-02-28", "day")),
        ("last Friday", "The bridge closed last Friday.", ("2017-02-24", "day")),
        ("Wednesday night", "Fire crews were called on Wednesday night.", ("2017-03-01", "day")),
        ("on Tuesday", "The mayor will resign on Tuesday.", ("2017-03-07", "day")),
        ("next Monday", "The court sits again next Monday.", ("2017-03-06", "day")),
    ],
)
def test_weekdays_look_back_unless_the_sentence_looks_ahead(expression, sentence, expected):
    assert value(expression, sentence) == expected


def test_the_publication_days_own_weekday_is_that_day_and_uncertain():
    resolved = resolve("on Friday", "The ferry sank on Friday.", FRIDAY)
    assert resolved is not None and (resolved.value, resolved.uncertain) == (FRIDAY, True)
    tuesday = resolve("on Tuesday", "The ferry sank on Tuesday.", FRIDAY)
    assert tuesday is not None and not tuesday.uncertain


@pytest.mark.parametrize(
    ("expression", "sentence", "published", "expected"),
    [
        # the weekday agrees with the date read: certain
        (
            "December 30",
            "The harbour master resigned on Friday, December 30, the board said.",
            "2017-01-03",
            ("2016-12-30", False),
        ),
        ("Friday, December 30", "The harbour master resigned on Friday, December 30.", "2017-01-03", ("2016-12-30", False)),
        ("Friday, August 13, 2021", "The port closed on Friday, August 13, 2021.", "2024-09-08", ("2021-08-13", False)),
        # it does not: the date read stays, in doubt (future: 30 December 2017 is a Saturday; past: 28 February 2025 a Friday)
        ("December 30", "The harbour will reopen on Friday, December 30.", "2017-01-03", ("2017-12-30", True)),
        ("February 28", "The vote was held on Saturday, February 28.", "2025-03-05", ("2025-02-28", True)),
        # "next" before the weekday states the direction; 13 June 2026 is a Saturday
        ("June 13", "Next Friday, June 13, the mayor opens the bridge.", "2025-07-01", ("2026-06-13", True)),
        ("Next Friday, June 13", "Next Friday, June 13, the mayor opens the bridge.", "2025-07-01", ("2026-06-13", True)),
        # "Friday, August 13" is not written before "August 1"
        ("August 1", "On Friday, August 13, the port closed; on August 1 it had reopened.", "2024-09-08", ("2024-08-01", False)),
    ],
)
def test_a_weekday_written_beside_a_day_checks_it(expression, sentence, published, expected):
    resolved = resolve(expression, sentence, published)
    assert resolved is not None and (resolved.value, resolved.uncertain) == expected


def test_a_weekday_span_is_read_with_the_day_of_the_month_after_it():
    sentence = "On Friday, August 13, 2021, the port closed."
    start = sentence.index("Friday")
    resolved = resolve_in(sentence, start, start + len("Friday"), "2024-09-08")
    assert resolved is not None and resolved.value == "2021-08-13"


def test_a_day_without_a_weekday_beside_it_is_not_in_doubt():
    resolved = resolve("December 30", "The harbour master resigned on December 30, the board said.", "2017-01-03")
    assert resolved is not None and (resolved.value, resolved.uncertain) == ("2016-12-30", False)


@pytest.mark.parametrize(
    ("expression", "sentence", "published", "expected"),
    [
        ("in September", "Talks collapsed in September.", FRIDAY, ("2016-09", "month")),
        ("December", "Exports fell in December.", "2017-01-13", ("2016-12", "month")),
        ("in March", "Prices rose in March.", FRIDAY, ("2017-03", "month")),
        ("last December", "The law passed last December.", FRIDAY, ("2016-12", "month")),
        ("in April", "The plant will open in April.", FRIDAY, ("2017-04", "month")),
        ("in January", "Elections are due to be held in January.", "2016-11-20", ("2017-01", "month")),
    ],
)
def test_bare_months_across_a_year_boundary(expression, sentence, published, expected):
    assert value(expression, sentence, published) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("two weeks ago", ("2017-02-13", "week")),
        ("last week", ("2017-02-20", "week")),
        ("three days ago", ("2017-02-28", "day")),
        ("yesterday", ("2017-03-02", "day")),
        ("last month", ("2017-02", "month")),
        ("earlier this month", ("2017-03", "month")),
        ("last weekend", ("2017-02-20", "week")),
    ],
)
def test_relative_spans(expression, expected):
    assert value(expression) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("next week", ("2017-03-06", "week")),
        ("next month", ("2017-04", "month")),
        ("tomorrow", ("2017-03-04", "day")),
        ("in two weeks", ("2017-03-13", "week")),
    ],
)
def test_future_expressions(expression, expected):
    assert value(expression, f"The minister will decide {expression}.") == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("March 3, 2016", ("2016-03-03", "day")),
        ("3 March 2014", ("2014-03-03", "day")),
        ("December 2015", ("2015-12", "month")),
        ("in 2009", ("2009", "year")),
    ],
)
def test_explicit_dates_stay_as_written(expression, expected):
    resolved = resolve(expression, "It was signed then.", FRIDAY)
    assert resolved is not None and (resolved.value, resolved.granularity) == expected
    assert not resolved.relative and not resolved.uncertain
    assert resolve(expression, "It was signed then.", "2021-06-30") == resolved.__class__(
        **{**resolved.__dict__, "published": "2021-06-30"}
    )


def test_a_document_without_a_date_is_never_resolved_against():
    assert resolve("last year", "It happened last year.", None) is None
    assert resolve("last year", "It happened last year.", "") is None
    assert resolve("last year", "It happened last year.", "sometime") is None


@pytest.mark.parametrize("expression", ["the 1990s", "recently", "for decades", "at 5pm", ""])
def test_what_is_not_a_placeable_date_is_left_alone(expression):
    assert resolve(expression, "Something happened.", FRIDAY) is None


def test_direction_reads_grammar():
    assert direction_of("The bridge will reopen in May.") == ("future", False)
    assert direction_of("The bridge reopened in May.") == ("past", False)
    assert direction_of("Officials said the bridge is set to reopen in May.") == ("future", True)


def test_publication_dates_accept_iso_dates_and_timestamps():
    assert str(publication_date("2017-03-03T09:15:00+00:00")) == FRIDAY
    assert publication_date("03/03/2017") is None


def test_the_description_shows_the_value_and_what_it_was_read_from():
    resolved = resolve("last year", "Last year, the ministry voted to close it.", FRIDAY)
    assert resolved is not None and describe(resolved) == '2016 ("last year", article of 3 Mar 2017)'
    day = resolve("on Friday", "The ferry sank on Friday.", FRIDAY)
    assert day is not None and describe(day).startswith("probably Fri 3 Mar 2017")
    explicit = resolve("March 3, 2016", "It was signed on March 3, 2016.", FRIDAY)
    assert explicit is not None and describe(explicit) == "Thu 3 Mar 2016"


@pytest.mark.parametrize(
    ("sentence", "span", "expected"),
    [
        ("The ministry voted last year to close it.", "last", ("2016", "year")),
        ("She died on Tuesday morning at the age of 87.", "Tuesday morning at the age of 87", ("2017-02-28", "day")),
        ("The ministry voted last year to close it.", "last year", ("2016", "year")),
    ],
)
def test_a_readers_span_is_completed_to_the_time_expression(sentence, span, expected):
    start = sentence.index(span)
    resolved = resolve_in(sentence, start, start + len(span), FRIDAY)
    assert resolved is not None and (resolved.value, resolved.granularity) == expected


def test_a_span_with_no_time_in_reach_is_not_resolved():
    sentence = "The committee approved the budget after a long debate."
    start = sentence.index("budget")
    assert resolve_in(sentence, start, start + len("budget"), FRIDAY) is None


@pytest.mark.parametrize("span", ["next week", "in September", "two days ago", "Tuesday", "last year"])
def test_spans_that_name_a_time(span):
    assert names_a_time(span)


@pytest.mark.parametrize("span", ["two years", "87", "the mayor", "a week-long strike"])
def test_spans_that_do_not(span):
    assert not names_a_time(span)
