"""Question analysis: what kind of thing the question asks for, and which of its words matter.

Read from the question's own grammar (its wh-word and the noun after "which"/"what"), never from
the corpus: "Which company ..." asks for an organization, "How many ..." for a quantity, "Why
..." for a description. The category nouns below are generic English ("country", "year",
"company"), not names of particular places, outlets or people.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from qa.text import terms, words


class AnswerKind(StrEnum):
    PERSON = "person"
    ORGANIZATION = "organization"
    PLACE = "place"
    TIME = "time"
    QUANTITY = "quantity"
    THING = "thing"  # "what/which X": a named thing or a noun phrase
    DESCRIPTION = "description"  # why / how / what happened: the evidence sentence is the answer

    @property
    def wants_short_answer(self) -> bool:
        return self is not AnswerKind.DESCRIPTION


# spaCy entity labels that can answer each kind (qa.ner); noun phrases answer THING.
ENTITY_LABELS: dict[AnswerKind, frozenset[str]] = {
    AnswerKind.PERSON: frozenset({"PERSON"}),
    AnswerKind.ORGANIZATION: frozenset({"ORG", "NORP"}),
    AnswerKind.PLACE: frozenset({"GPE", "LOC", "FAC"}),
    AnswerKind.TIME: frozenset({"DATE", "TIME"}),
    AnswerKind.QUANTITY: frozenset({"CARDINAL", "MONEY", "PERCENT", "QUANTITY", "ORDINAL"}),
    AnswerKind.THING: frozenset(
        {"PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE", "NORP", "ORG", "PERSON", "GPE", "LOC", "FAC"}
    ),
    AnswerKind.DESCRIPTION: frozenset(),
}
# Labels that answer a kind less often ("Who won?" may be a team; "Where?" may be an organization).
NEAR_LABELS: dict[AnswerKind, frozenset[str]] = {
    AnswerKind.PERSON: frozenset({"ORG", "NORP"}),
    AnswerKind.ORGANIZATION: frozenset({"PERSON", "GPE"}),
    AnswerKind.PLACE: frozenset({"ORG", "NORP"}),
    AnswerKind.TIME: frozenset({"CARDINAL"}),
    AnswerKind.QUANTITY: frozenset({"DATE", "TIME"}),
    AnswerKind.THING: frozenset({"DATE", "CARDINAL", "MONEY", "PERCENT", "QUANTITY"}),
    AnswerKind.DESCRIPTION: frozenset(),
}

# Generic category nouns after "which"/"what" ("which city", "what year").
CATEGORY_KINDS: dict[AnswerKind, frozenset[str]] = {
    AnswerKind.PLACE: frozenset(
        "country countries city cities town towns village region regions state states place places capital nation "
        "province location continent area island river mountain border district county neighbourhood neighborhood "
        "port airport street territory site venue".split()
    ),
    AnswerKind.TIME: frozenset("year years date day days month months time decade century era season week hour".split()),
    AnswerKind.PERSON: frozenset(
        "person man woman people official minister president leader secretary spokesman spokeswoman spokesperson "
        "player coach author founder director chief judge senator governor mayor candidate actor singer artist "
        "scientist king queen emperor pope general commander ambassador envoy diplomat lawmaker politician engineer "
        "doctor writer reporter journalist officer worker teacher student lawyer activist athlete manager owner "
        "winner member chairman chairwoman ceo prosecutor suspect victim architect composer poet novelist".split()
    ),
    AnswerKind.ORGANIZATION: frozenset(
        "company companies organization organisation party team group agency newspaper network club university "
        "bank firm band government ministry department court airline channel school college institution body "
        "union alliance army militia broadcaster outlet publication manufacturer orchestra publisher charity coalition "
        "committee council parliament church hospital museum studio label brand".split()
    ),
    AnswerKind.QUANTITY: frozenset(
        "number amount percentage percent share proportion sum price cost total size range distance population "
        "rate figure age height length weight speed score".split()
    ),
}
QUANTITY_HOW = frozenset("many much large big long far old high tall heavy fast often deep wide".split())
DESCRIPTION_HOW = frozenset("did does do is was were are can could would will has have had should".split())
SKIP_AFTER_WH = frozenset("is was were are did does do the a an of kind type sort".split())

WH_RE = re.compile(r"\b(who|whom|whose|what|which|when|where|why|how)\b", re.IGNORECASE)
HAPPENED_RE = re.compile(
    r"\bwhat\s+(happened|happens|is happening|caused|causes|led to|did (\w+ ){1,6}(say|do|announce|tell|warn|claim))\b",
    re.IGNORECASE,
)
YES_NO_RE = re.compile(r"^\s*(is|are|was|were|did|does|do|has|have|had|can|could|will|would|should)\b", re.IGNORECASE)


@dataclass(frozen=True)
class QuestionAnalysis:
    text: str
    kind: AnswerKind
    wh: str | None  # the question word that set the kind ("who", "how many", ...)
    terms: tuple[str, ...]  # stemmed content terms (qa.text.terms)
    focus: frozenset[str] = field(default_factory=frozenset)  # terms right after the wh-phrase
    category: str | None = None  # "country" in "which country ..."; its stem is not required in the answer

    @property
    def term_set(self) -> frozenset[str]:
        return frozenset(self.terms)


NAME_RE = re.compile(r"\b[A-Z][\w'’-]*")  # "Town99", "O'Neill": a name as written, digits included


def question_names(question: str) -> list[str]:
    """The capitalised words of a question, its first word aside (capitalised only as the first)."""
    return NAME_RE.findall(question.split(maxsplit=1)[1] if " " in question.strip() else "")


def _category_kind(noun: str) -> AnswerKind | None:
    for kind, nouns in CATEGORY_KINDS.items():
        if noun in nouns:
            return kind
    return None


class QuestionAnalyzer:
    """question text → QuestionAnalysis (kind, focus terms, category noun)."""

    def run(self, question: str) -> QuestionAnalysis:
        lowered = question.lower()
        kind, wh, category = AnswerKind.THING, None, None
        match = WH_RE.search(lowered)
        following: list[str] = []
        if HAPPENED_RE.search(lowered) or (not match and YES_NO_RE.match(lowered)):
            kind, wh = AnswerKind.DESCRIPTION, (match.group(1) if match else None)
        elif match:
            wh = match.group(1)
            following = words(question[match.end() :])
            first = following[0] if following else ""
            if wh in {"who", "whom", "whose"}:
                kind = AnswerKind.PERSON
            elif wh == "when":
                kind = AnswerKind.TIME
            elif wh == "where":
                kind = AnswerKind.PLACE
            elif wh == "why":
                kind = AnswerKind.DESCRIPTION
            elif wh == "how":
                if first in QUANTITY_HOW:
                    kind, wh = AnswerKind.QUANTITY, f"how {first}"
                    following = following[1:]
                else:
                    kind = AnswerKind.DESCRIPTION
            else:  # what / which
                noun_at = 0
                while noun_at < len(following) - 1 and following[noun_at] in SKIP_AFTER_WH:
                    noun_at += 1
                # the head of the wh-phrase: the first category noun among its first words ("which CIA director")
                phrase = following[noun_at : noun_at + 3] if wh == "which" or noun_at <= 2 else []
                typed = [(w, k) for w in phrase if (k := _category_kind(w)) is not None]
                if typed:
                    category, kind = typed[0]
                elif wh == "which" and first not in SKIP_AFTER_WH and first:
                    category = first
        focus_words = [w for w in following if w not in SKIP_AFTER_WH][:3]
        focus = frozenset(terms(" ".join(focus_words)))
        category_terms = set(terms(category)) if category else set()
        return QuestionAnalysis(
            question, kind, wh, tuple(dict.fromkeys(terms(question))), frozenset(focus - category_terms), category
        )
