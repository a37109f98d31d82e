"""Publication-date filters: the range `--since/--until` (CLI) and `since/until` (HTTP) ask for.

A bound is an ISO day (`2024-03-05`), a month (`2024-03`) or a year (`2024`), inclusive: a
period given as `since` starts on its first day, one given as `until` ends on its last, so
`since=2024 until=2024` is all of 2024. Retrieval keeps to the range inside each index backend
(`IndexReader.candidates`), so a filtered search returns the best passages in range, not the best
passages overall with those out of range dropped. A document's day is read from its `published`
field by `publication_day`; a document without one is outside every range that has a bound.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from qa.errors import BadInput

BOUND_FORMATS = "YYYY-MM-DD, YYYY-MM or YYYY"
_BOUND_RE = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?", re.ASCII)
# A document's day: `published` starting with an ISO date (a timestamp's date part), or a month
# (its first day; the cleaner writes a month-only dateline as YYYY-MM). The PostgreSQL backend
# applies the same rule in SQL when it upgrades an index (`qa_published_day`, migration 3).
_PUBLISHED_RE = re.compile(r"\s*([0-9]{4})-([0-9]{2})(?:-([0-9]{2}))?(?![0-9])", re.ASCII)


def publication_day(published: str | None) -> date | None:
    """The day a document was published, from its `published` field; None when it names none."""
    match = _PUBLISHED_RE.match(published or "")
    if match is None:
        return None
    year, month, day = match.groups()
    try:
        return date(int(year), int(month), int(day or 1))
    except ValueError:
        return None


def parse_bound(text: str, name: str, end: bool) -> date:
    """One bound as a day: a month or year is its first day, or its last when `end` (an `until`)."""
    match = _BOUND_RE.fullmatch(text.strip())
    try:
        if match is None:
            raise ValueError(text)
        year, month, day = match.groups()
        if month is None:
            return date(int(year), 12, 31) if end else date(int(year), 1, 1)
        if day is None:
            last = calendar.monthrange(int(year), int(month))[1] if 1 <= int(month) <= 12 else 0
            return date(int(year), int(month), last if end else 1)
        return date(int(year), int(month), int(day))
    except ValueError:
        raise BadInput(f"{name}={text} is not a date: use {BOUND_FORMATS} (e.g. 2024-03-05)") from None


@dataclass(frozen=True, slots=True)
class DateRange:
    """Inclusive publication days; None is no bound on that side. Empty (since > until) is refused."""

    since: date | None = None
    until: date | None = None

    def __post_init__(self) -> None:
        if self.since is not None and self.until is not None and self.since > self.until:
            raise BadInput(f"since {self.since} is after until {self.until}: no day is in that range")

    @classmethod
    def parse(cls, since: str | None, until: str | None, names: tuple[str, str] = ("since", "until")) -> DateRange | None:
        """The range two bounds name (either may be None or blank: no bound); None when neither is set.

        `names` are what the caller calls the bounds (`--since`, `--until` on the command line), so
        a bad value is reported in the caller's words.
        """
        low = parse_bound(since, names[0], end=False) if since and since.strip() else None
        high = parse_bound(until, names[1], end=True) if until and until.strip() else None
        if low is None and high is None:
            return None
        if low is not None and high is not None and low > high:
            raise BadInput(f"{names[0]}={since} is after {names[1]}={until}: no day is in that range")
        return cls(low, high)

    @property
    def first(self) -> date:
        """The first day in range (the earliest date there is when unbounded below)."""
        return self.since or date.min

    @property
    def last(self) -> date:
        """The last day in range (the latest date there is when unbounded above)."""
        return self.until or date.max

    def describe(self) -> str:
        """The range in words, for messages: "from 2024-01-01 to 2024-12-31", "from ... on", "up to ..."."""
        if self.since is not None and self.until is not None:
            return f"from {self.since} to {self.until}"
        if self.since is not None:
            return f"from {self.since} on"
        if self.until is not None:
            return f"up to {self.until}"
        return "on any known date"

    def __contains__(self, day: object) -> bool:
        """Whether a publication day (None: undated) is in range; undated never is."""
        return isinstance(day, date) and self.first <= day <= self.last
