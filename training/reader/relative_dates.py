"""Reader examples whose answer is a date written as news writes it: relative to the day of publication.

    .venv/bin/python -m training.reader.relative_dates   # writes training/out/reader/relative-{train,validation}.jsonl

Why: SQuAD is Wikipedia, where a "when" question is answered "in 1995" or "on 3 March 1995". News
says "last year", "on Tuesday", "three weeks ago", "next month". The reader trained on SQuAD alone
finds such spans but scores them as unlikely answers (p 0.04-0.33 on the news time questions' tune
half, where an explicit date elsewhere scored 0.8), so time questions over news are declined or
answered from the wrong sentence.

How: every SQuAD answer window (from `training.reader.data`'s files, so the split by article is
theirs) whose gold answer is a year, a month and year, or a day of a month, and which the sentence
introduces with "in"/"on", is copied with that phrase rewritten into a relative expression of the
same granularity, chosen at random ("in 1995" → "last year", "two years ago", "earlier this year",
"next year"; "in March 1995" → "last month", "in March", "March last year", "later this month";
"on March 3, 1995" → "on Friday", "yesterday", "last week", "three weeks ago", "next Monday"). The
weekday of a day that has a year is that day's real weekday. The answer becomes the rewritten
expression (without its "in"/"on", as SQuAD marks answers). Only the sentence holding the answer
changes, so the window's other sentences and the question are SQuAD's own. The reader never sees a
publication date: resolving the expression is `qa.answering.dates`' work, after the reader.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import re
import time
from dataclasses import replace

from training.reader.data import OUT, Example, read, write

MONTHS = "January February March April May June July August September October November December".split()
WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
_MONTH = "|".join(MONTHS)
_YEAR = r"(?:1[5-9]\d\d|20\d\d)"
YEAR_RE = re.compile(rf"^({_YEAR})$")
MONTH_YEAR_RE = re.compile(rf"^({_MONTH}) ({_YEAR})$")
DAY_RE = re.compile(rf"^(?:({_MONTH}) (\d{{1,2}})(?:, ({_YEAR}))?|(\d{{1,2}}) ({_MONTH})(?: ({_YEAR}))?)$")
NUMBERS = ["two", "three", "four", "five"]

# (the words that replace "in/on <date>", the part of them that is the answer); {m} a month, {d} a weekday
YEAR_PHRASES = [
    ("last year", "last year"), ("last year", "last year"), ("earlier this year", "earlier this year"),
    ("this year", "this year"), ("next year", "next year"), ("{n} years ago", "{n} years ago"),
]  # fmt: skip
MONTH_PHRASES = [
    ("last month", "last month"), ("earlier this month", "earlier this month"), ("in {m}", "{m}"),
    ("{m} last year", "{m} last year"), ("last {m}", "last {m}"), ("next month", "next month"),
    ("later this month", "later this month"), ("in {m}", "{m}"),
]  # fmt: skip
DAY_PHRASES = [
    ("on {d}", "{d}"), ("on {d}", "{d}"), ("last {d}", "last {d}"), ("yesterday", "yesterday"),
    ("last week", "last week"), ("earlier this week", "earlier this week"), ("{n} weeks ago", "{n} weeks ago"),
    ("next {d}", "next {d}"), ("next week", "next week"),
]  # fmt: skip


DATE_RE = re.compile(
    rf"(?:^|(?<=\s))([Ii]n|[Oo]n) ((?:{_MONTH}) \d{{1,2}}, {_YEAR}|\d{{1,2}} (?:{_MONTH}) {_YEAR}|(?:{_MONTH}) {_YEAR}|{_YEAR})\b"
)


def relative_phrase(preposition: str, date: str, rng: random.Random) -> tuple[str, str] | None:
    """(words replacing "<preposition> <date>", the part of them that answers "when"), or None."""
    weekday = rng.choice(WEEKDAYS)
    if preposition == "in" and YEAR_RE.match(date):
        phrases = YEAR_PHRASES
    elif preposition == "in" and (my := MONTH_YEAR_RE.match(date)):
        phrases = [(p.replace("{m}", my.group(1)), t.replace("{m}", my.group(1))) for p, t in MONTH_PHRASES]
    elif preposition == "on" and (d := DAY_RE.match(date)):
        month, day, year = (d.group(1), d.group(2), d.group(3)) if d.group(1) else (d.group(5), d.group(4), d.group(6))
        if year:
            try:
                weekday = WEEKDAYS[dt.date(int(year), MONTHS.index(month) + 1, int(day)).weekday()]
            except ValueError:
                return None
        phrases = DAY_PHRASES
    else:
        return None
    phrase, target = rng.choice(phrases)
    n = rng.choice(NUMBERS)
    return phrase.format(n=n, d=weekday), target.format(n=n, d=weekday)


def _substitute(sentence: str, start: int, end: int, phrase: str) -> tuple[str, str]:
    """The sentence with [start, end) replaced by the phrase (capitalised where the sentence began)."""
    if start == 0:
        phrase = phrase[0].upper() + phrase[1:]
    return sentence[:start] + phrase + sentence[end:], phrase


def rewrite(ex: Example, rng: random.Random) -> Example | None:
    """A copy of an answer window with its date answer rewritten as a relative expression, or None."""
    if ex.kind != "answer" or ex.answer is None:
        return None
    i, a, b = ex.answer
    sentence = ex.sentences[i]
    m = re.search(r"(?:^|\s)([Ii]n|[Oo]n) $", sentence[:a])
    chosen = m and relative_phrase(m.group(1).lower(), sentence[a:b], rng)
    if not m or not chosen:
        return None
    start = m.start(1)
    new_sentence, phrase = _substitute(sentence, start, b, chosen[0])
    t0 = start + phrase.lower().rindex(chosen[1].lower())
    sentences = list(ex.sentences)
    sentences[i] = new_sentence
    gold = new_sentence[t0 : t0 + len(chosen[1])]
    return replace(
        ex, id=f"{ex.id}-rel", kind="relative_date", sentences=sentences, answer=[i, t0, t0 + len(chosen[1])], answers=[gold]
    )


def rewrite_negative(ex: Example, rng: random.Random) -> Example | None:
    """A "no answer" window with its first dated phrase made relative: the question still has no answer there.

    Without these the reader learns that a relative expression answers any "when" question; with
    them it must still read whether the sentence says what was asked.
    """
    if ex.answer is not None:
        return None
    for i, sentence in enumerate(ex.sentences):
        m = DATE_RE.search(sentence)
        if m and (chosen := relative_phrase(m.group(1).lower(), m.group(2), rng)):
            sentences = list(ex.sentences)
            sentences[i] = _substitute(sentence, m.start(), m.end(), chosen[0])[0]
            return replace(ex, id=f"{ex.id}-rel", kind="relative_negative", sentences=sentences)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    started = time.perf_counter()
    for name in ("train", "validation"):
        rng = random.Random(args.seed + (name == "validation"))
        source = read(OUT / f"{name}.jsonl")
        answers = [r for ex in source if (r := rewrite(ex, rng)) is not None]
        negatives = [r for ex in source if (r := rewrite_negative(ex, rng)) is not None]
        write(OUT / f"relative-{name}.jsonl", answers)
        write(OUT / f"relative-negatives-{name}.jsonl", negatives)
        print(f"{name}: {len(answers)} relative-date answer windows, {len(negatives)} no-answer windows with one")
    print(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
