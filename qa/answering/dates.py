"""Time answers resolved against their article's publication date.

News is written relative to the day it is published: "last year", "on Tuesday", "in September",
"two weeks ago". An answer read later must say which year, day or month that was, so a time
answer's exact span is parsed by dateparser with the article's date as its relative base and
returned as an ISO value with its granularity: `2016` (year), `2016-09` (month), `2017-02-06`
(week: its Monday), `2017-02-07` (day).

dateparser does the calendar work. What it cannot know is the direction of a bare month or weekday:
"in September" in a January article is last September when the sentence tells what happened and
next September when it tells what will. That is read from the sentence's grammar (a future
auxiliary or "is due / set / scheduled / expected to"), not from any word list about the news.
A bare month or weekday resolves to the most recent one not after the publication date unless the
sentence is about the future; when a weekday is the publication day's own, or a future-looking
sentence also speaks in the past, the resolution is marked uncertain; so is a day of the month
whose weekday, written beside it ("Friday, August 13"), does not fall on it in the year chosen (a
typo, or a republished copy whose date is not the story's). A document without a date is never
resolved against.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from dateparser.date import DateDataParser

MAX_GROWN_WORDS = 2  # "last" → "last year", "two" → "two weeks ago"
MAX_CUT_WORDS = 8  # a span that runs on past its date ("Tuesday morning at the age of 87")

Granularity = Literal["year", "month", "week", "day"]
Direction = Literal["past", "future"]

# dateparser's periods onto the granularities an answer reports; "time" (a clock time, or
# something it could only read as "now", such as a decade) is not resolved
PERIODS: dict[str, Granularity] = {"year": "year", "month": "month", "week": "week", "day": "day", "part_of_day": "day"}

MONTH = (
    r"(?:january|february|march|april|may|june|july|august|september|october|november|december"
    r"|(?:jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)(?:\.|(?=\s+\d)))"
)
WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|(?:mon|tues?|wed|thu|thurs|fri|sat|sun)\.)"
YEAR_RE = re.compile(r"\b(1[89]|20)\d\d\b")
DECADE_RE = re.compile(r"\b\d{2,4}'?s\b")
# words a span may carry around the date itself: prepositions, and the vaguer part of a period
# ("late last year" is still last year at year granularity)
LEADING_RE = re.compile(
    r"^(?:(?:on|in|at|by|since|until|till|from|during|of|as of|the|earlier|later|early|mid|late|"
    r"the (?:end|start|beginning|middle) of)[\s-]+)+",
    re.IGNORECASE,
)
# "in two weeks" is a span counted forward, not a preposition before a date
COUNTED_FORWARD_RE = re.compile(r"^in\s+\S+\s+(?:days?|weeks?|months?|years?)\b", re.IGNORECASE)
# "last December", "this Tuesday": the direction is stated; the bare name is what dateparser reads
STATED = r"(last|this|past|next|coming)"
STATED_RE = re.compile(rf"^{STATED}\s+(?=(?:{MONTH}|{WEEKDAY})(?!\w))", re.IGNORECASE)
BARE_RE = re.compile(rf"^(?:{MONTH}|{WEEKDAY})(?:\s+(?:morning|afternoon|evening|night))?$", re.IGNORECASE)
WEEKDAY_RE = re.compile(rf"^{WEEKDAY}(?!\w)", re.IGNORECASE)
DAY_OF_MONTH = rf"(?:{MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{MONTH})"
DAY_OF_MONTH_RE = re.compile(rf"^{DAY_OF_MONTH}$", re.IGNORECASE)
DATED_DAY = rf"{DAY_OF_MONTH}(?:,?\s+\d{{4}})?"  # with its year or without
DATED_DAY_RE = re.compile(rf"^{DATED_DAY}$", re.IGNORECASE)
# "Friday, August 13", "next Friday, August 13, 2021": a weekday written with a day of the month,
# which checks the date read (and "next"/"last" before it states the direction)
STATED_WORDS = rf"(?:{STATED}\s+)?"
WEEKDAY_BESIDE_RE = re.compile(rf"^{STATED_WORDS}({WEEKDAY})[\s,]+", re.IGNORECASE)
DAY_AFTER_WEEKDAY_RE = re.compile(rf"[\s,]+{DATED_DAY}(?!\w)", re.IGNORECASE)
ENDS_WITH_WEEKDAY_RE = re.compile(rf"{WEEKDAY}(?!\w)\W*$", re.IGNORECASE)
WEEKDAY_NUMBERS = {name: i for i, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))}
# "November last year": a month of a year named relative to the article's
MONTH_OF_YEAR_RE = re.compile(rf"^({MONTH})\s+(?:of\s+)?((?:last|this|next) year)$", re.IGNORECASE)
WEEKEND_RE = re.compile(r"\bweekend\b", re.IGNORECASE)
# the grammar of a sentence about what is to come, and of one about what has been
FUTURE_RE = re.compile(
    r"\b(?:will|shall|won't|'ll|going to|(?:is|are|was|were) (?:due|set|scheduled|expected|slated|planned|poised) to"
    r"|(?:is|are) to be|plans? to|intends? to)\b",
    re.IGNORECASE,
)
PAST_RE = re.compile(r"\b(?:was|were|had|did|said|ago|\w{3,}ed)\b", re.IGNORECASE)


@dataclass(frozen=True)
class ResolvedDate:
    """A time answer's value: `value` is ISO at `granularity`, resolved from `expression` (the span
    as written) against `published` (the article's date)."""

    value: str
    granularity: Granularity
    expression: str
    published: str
    relative: bool  # the value depended on the publication date (not a date written out in full)
    uncertain: bool


# a span that names a point in time by itself, whatever the question's wording ("How soon ...?" →
# "next week"): a month or weekday, or a period counted from now
TIME_SPAN_RE = re.compile(
    rf"\b(?:{MONTH}|{WEEKDAY}|yesterday|today|tomorrow|tonight|ago"
    r"|(?:last|next|this|coming|past|earlier|later) (?:week|weekend|month|year|decade|century))\b",
    re.IGNORECASE,
)


def names_a_time(span: str) -> bool:
    """Whether `span` names a point in time by itself (a month, weekday or period counted from now)."""
    return TIME_SPAN_RE.search(span) is not None


def publication_date(published: str | None) -> date | None:
    """The day an article's `published` field names (ISO date or timestamp), or None."""
    if not published:
        return None
    try:
        return datetime.fromisoformat(published.strip()[:10]).date()
    except ValueError:
        return None


def direction_of(sentence: str) -> tuple[Direction, bool]:
    """Whether the sentence tells what will happen, and whether it also speaks in the past tense."""
    future = FUTURE_RE.search(sentence) is not None
    return ("future" if future else "past"), future and PAST_RE.search(sentence) is not None


def resolve(expression: str, sentence: str, published: str | None) -> ResolvedDate | None:
    """`expression` (a time answer's exact span) as an ISO value, or None when it is not a date
    dateparser can place or the document has no publication date."""
    base = publication_date(published)
    if base is None or not expression.strip():
        return None
    text = " ".join(expression.split()).strip(" ,.;:")
    if DECADE_RE.search(text):
        return None
    if not COUNTED_FORWARD_RE.match(text):
        text = LEADING_RE.sub("", text)
    beside = _weekday_beside(text, expression, sentence)
    if beside is not None:
        text = beside.rest
    month_of_year = MONTH_OF_YEAR_RE.match(text)
    if month_of_year:
        year = _parse(month_of_year.group(2), base, "past")
        if year is None:
            return None
        text = f"{month_of_year.group(1)} {year[0].year}"
    stated = STATED_RE.match(text)
    bare = stated is None and BARE_RE.match(text) is not None
    direction: Direction = "past"
    uncertain = False
    if stated:
        direction = _stated_direction(stated.group(1))
        text = text[stated.end() :]
    elif beside is not None and beside.stated not in (None, "this"):
        direction = _stated_direction(beside.stated)  # "next Friday, August 13"
    elif bare or DAY_OF_MONTH_RE.match(text):
        direction, uncertain = direction_of(sentence)
    weekend = WEEKEND_RE.search(text) is not None
    if weekend:
        text = WEEKEND_RE.sub("saturday", text)
    parsed = _parse(text, base, direction)
    if parsed is None:
        return None
    day, period = parsed
    granularity: Granularity = "week" if weekend else period
    if WEEKDAY_RE.match(text) and (stated is None or stated.group(1).lower() == "this"):
        day, same_day = _weekday(day.weekday(), base, direction)
        uncertain = uncertain or same_day
    if beside is not None and granularity == "day" and day.weekday() != beside.weekday:
        # the text's own weekday does not fall on the date read: a typo, or a story whose
        # publication date is not its own (a republished copy); the date stays, in doubt
        uncertain = True
    return ResolvedDate(
        value=_iso(day, granularity),
        granularity=granularity,
        expression=expression,
        published=base.isoformat(),
        relative=month_of_year is not None or YEAR_RE.search(text) is None,
        uncertain=uncertain,
    )


def resolve_in(sentence: str, start: int, end: int, published: str | None) -> ResolvedDate | None:
    """The time expression at `sentence[start:end]` (a reader's span), completed where the span
    stops short of it or runs past it: "last" in "last year", "Tuesday morning at the age of 87".

    The span as given is tried first (a weekday with the day of the month written after it is read
    with that day: "Friday" of "Friday, August 13"), then grown word by word to the right and one
    word to the left ("last" / "on" before it), then cut back word by word from the right: the first
    reading dateparser can place wins."""
    variants = _variants(sentence, start, end)
    if ENDS_WITH_WEEKDAY_RE.search(sentence[start:end]) and (day := DAY_AFTER_WEEKDAY_RE.match(sentence, end)):
        variants.insert(0, (start, day.end()))  # "Friday" of "on Friday, August 13": the day of the month says which
    for a, b in variants:
        resolved = resolve(sentence[a:b], sentence, published)
        if resolved is not None:
            return resolved
    return None


def _variants(sentence: str, start: int, end: int) -> list[tuple[int, int]]:
    words = [(m.start(), m.end()) for m in re.finditer(r"[\w'’.-]+", sentence)]
    inside = [i for i, (a, b) in enumerate(words) if a < end and b > start]
    if not inside:
        return [(start, end)]
    first, last = inside[0], inside[-1]
    out = [(start, end)]
    for extra in range(1, MAX_GROWN_WORDS + 1):
        if last + extra < len(words):
            out.append((start, words[last + extra][1]))
    if first > 0:
        out.append((words[first - 1][0], end))
    for cut in range(1, min(MAX_CUT_WORDS, last - first) + 1):
        out.append((start, words[last - cut][1]))
    return out


def _stated_direction(word: str) -> Direction:
    """The direction "next"/"coming" or "last"/"past"/"this" states ("this Tuesday" looks back, as a bare one does)."""
    return "future" if word.lower() in ("next", "coming") else "past"


@dataclass(frozen=True)
class WrittenWeekday:
    """A weekday written with a day of the month: Monday 0, the "next"/"last" before it (lower
    case, or None), and the expression's text without it."""

    weekday: int
    stated: str | None
    rest: str


def _weekday_beside(text: str, expression: str, sentence: str) -> WrittenWeekday | None:
    """The weekday written with a day of the month ("Friday, August 13" in the span, or "Friday"
    just before the span "August 13" in its sentence), or None."""
    beside = WEEKDAY_BESIDE_RE.match(text)
    rest = text
    if beside is not None and DATED_DAY_RE.match(text[beside.end() :]):
        rest = text[beside.end() :]
    elif DATED_DAY_RE.match(text):
        pattern = rf"\b{STATED_WORDS}\b({WEEKDAY})[\s,]+{re.escape(expression.strip())}(?!\w)"
        beside = re.search(pattern, sentence, re.IGNORECASE)
    else:
        beside = None
    if beside is None:
        return None
    stated = beside.group(1).lower() if beside.group(1) else None
    return WrittenWeekday(WEEKDAY_NUMBERS[beside.group(2)[:3].lower()], stated, rest)


def _parse(text: str, base: date, direction: Direction) -> tuple[date, Granularity] | None:
    data = _parser(base, direction).get_date_data(text)
    period = PERIODS.get(data.period or "")
    if data.date_obj is None or period is None:
        return None
    return data.date_obj.date(), period


def _weekday(wanted: int, base: date, direction: Direction) -> tuple[date, bool]:
    """The weekday `wanted` (Monday 0) nearest the publication day in `direction`, that day itself
    included (an article of a Tuesday that says "on Tuesday" means that day, most likely: uncertain)."""
    step = -1 if direction == "past" else 1
    offset = ((wanted - base.weekday()) * step) % 7
    return base + timedelta(days=step * offset), offset == 0


def _iso(day: date, granularity: Granularity) -> str:
    if granularity == "year":
        return f"{day.year:04d}"
    if granularity == "month":
        return f"{day.year:04d}-{day.month:02d}"
    if granularity == "week":
        return (day - timedelta(days=day.weekday())).isoformat()
    return day.isoformat()


@lru_cache(maxsize=64)
def _parser(base: date, direction: Direction) -> DateDataParser:
    from dateparser.date import DateDataParser  # imported on first use: a second of start-up

    return DateDataParser(
        languages=["en"],
        settings={
            "RELATIVE_BASE": datetime(base.year, base.month, base.day),
            "PREFER_DATES_FROM": direction,
            "RETURN_TIME_AS_PERIOD": True,
        },
    )


def day_label(published: str) -> str:
    """`3 Mar 2017` for an ISO date (the text itself when it is not one)."""
    day = publication_date(published)
    return f"{day.day} {day:%b %Y}" if day else published


def describe(resolved: ResolvedDate) -> str:
    """`2016 ("last year", article of 3 Mar 2017)`: the value first, then what it was read from."""
    article = day_label(resolved.published)
    value = _display(resolved)
    if not resolved.relative:
        return value
    hedge = "probably " if resolved.uncertain else ""
    return f'{hedge}{value} ("{resolved.expression}", article of {article})'


def _display(resolved: ResolvedDate) -> str:
    value = resolved.value
    if resolved.granularity == "year":
        return value
    day = datetime.fromisoformat(value + ("-01" if resolved.granularity == "month" else "")).date()
    if resolved.granularity == "month":
        return f"{day:%B %Y}"
    if resolved.granularity == "week":
        return f"week of {day.day} {day:%b %Y}"
    return f"{day:%a} {day.day} {day:%b %Y}"
