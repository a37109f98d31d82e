"""Date filter bounds as the CLI and the HTTP API take them (`qa.daterange`)."""

from __future__ import annotations

from datetime import date

import pytest

from qa.daterange import DateRange, publication_day
from qa.errors import BadInput


@pytest.mark.parametrize(
    "since,until,expected",
    [
        ("2024", "2024", (date(2024, 1, 1), date(2024, 12, 31))),
        ("2024-02", "2024-02", (date(2024, 2, 1), date(2024, 2, 29))),  # a leap year's February
        (None, "2023-02", (None, date(2023, 2, 28))),
        (" 2024-03-05 ", None, (date(2024, 3, 5), None)),
        ("2024-03-05", "2024-03-05", (date(2024, 3, 5), date(2024, 3, 5))),  # one day
        ("", "  ", None),  # blank: no bound
        (None, None, None),
    ],
)
def test_bounds_are_inclusive_days(since, until, expected):
    dates = DateRange.parse(since, until)
    assert (dates.since, dates.until) == expected if dates is not None else expected is None


@pytest.mark.parametrize("text", ["2024-13", "2024-00", "2024-02-30", "0000", "24", "2024/03/05", "March 2024", "2024-3"])
def test_a_bound_that_is_not_a_date_is_bad_input(text):
    with pytest.raises(BadInput, match=f"--since={text} is not a date: use YYYY-MM-DD, YYYY-MM or YYYY"):
        DateRange.parse(text, None, names=("--since", "--until"))


def test_since_after_until_is_bad_input():
    with pytest.raises(BadInput, match="since=2024-05 is after until=2024-04"):
        DateRange.parse("2024-05", "2024-04")
    with pytest.raises(BadInput):
        DateRange(date(2024, 5, 1), date(2024, 4, 1))
    assert DateRange.parse("2024-04-30", "2024-04") is not None  # the day is inside the month


def test_undated_documents_are_outside_every_range():
    assert publication_day(None) is None and publication_day("sometime in spring") is None
    assert publication_day("2024-03-05T10:00:00Z") == date(2024, 3, 5) and publication_day("2024-06") == date(2024, 6, 1)
    assert None not in DateRange(until=date(2030, 1, 1)) and date(2024, 3, 5) in DateRange(since=date(2024, 3, 5))
