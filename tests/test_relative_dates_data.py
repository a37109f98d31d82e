"""The relative-date reader examples: a date answer rewritten as news writes it, nothing else."""

from __future__ import annotations

import random

import pytest

from training.reader.data import Example
from training.reader.relative_dates import rewrite


def window(sentence: str, answer: str, kind: str = "answer", question: str = "When did it open?") -> Example:
    a = sentence.index(answer)
    return Example(
        "q1", kind, question, "Harbour Town", ["The harbour is old.", sentence], [1, a, a + len(answer)], [answer], "train", "t"
    )


def answer_of(ex: Example) -> str:
    assert ex.answer is not None
    i, a, b = ex.answer
    return ex.sentences[i][a:b]


@pytest.mark.parametrize("seed", range(12))
def test_a_year_becomes_a_relative_year_and_the_answer_follows_it(seed: int) -> None:
    ex = rewrite(window("The new bridge over the harbour opened in 1987 after years of delay.", "1987"), random.Random(seed))
    assert ex is not None and ex.kind == "relative_date"
    sentence = ex.sentences[1]
    assert "1987" not in sentence and " in " not in sentence
    assert sentence.startswith("The new bridge over the harbour opened ") and sentence.endswith(" after years of delay.")
    assert answer_of(ex) == ex.answers[0] and "year" in ex.answers[0]
    assert ex.sentences[0] == "The harbour is old." and ex.question == "When did it open?"


def test_a_sentence_that_begins_with_the_date_stays_capitalised() -> None:
    for seed in range(12):
        ex = rewrite(window("In March 1990, the harbour reopened.", "March 1990"), random.Random(seed))
        assert ex is not None
        assert ex.sentences[1][0].isupper() and ex.sentences[1].endswith(", the harbour reopened.")
        assert answer_of(ex).lower() in ex.sentences[1].lower() and "1990" not in ex.sentences[1]


def test_a_day_with_a_year_keeps_its_real_weekday() -> None:
    seen = set()
    for seed in range(40):
        ex = rewrite(window("The ferry sank on March 3, 1995 near the pier.", "March 3, 1995"), random.Random(seed))
        assert ex is not None
        seen.add(answer_of(ex))
    weekdays = {a for a in seen if a.endswith("day") and a not in {"yesterday"}}
    assert weekdays and all("Friday" in a for a in weekdays)  # 3 March 1995 was a Friday


@pytest.mark.parametrize(
    ("sentence", "answer", "kind"),
    [
        ("The bridge opened in 1987.", "The bridge", "answer"),  # not a date
        ("The 1987 bridge is closed.", "1987", "answer"),  # a date not introduced by in/on
        ("The bridge opened in 1987.", "1987", "paragraph"),  # not an answer window
        ("The bridge opened on 31 February 1987.", "31 February 1987", "answer"),  # no such day
    ],
)
def test_what_is_not_a_dated_answer_is_left_out(sentence: str, answer: str, kind: str) -> None:
    assert rewrite(window(sentence, answer, kind), random.Random(0)) is None
