"""Follow-up questions: "When was that?" only makes sense next to the turn before it.

A follow-up (a question that points back with "that", "it", "he"... or has almost no content
words of its own) is retrieved together with the previous question, so it lands on the same
story; the answer type still comes from the follow-up's own words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from qa.text import terms

BACK_REFERENCE_RE = re.compile(
    r"\b(it|its|that|this|those|these|they|them|their|he|him|his|she|her|there|then|the same|"
    r"the deal|the meeting|the report|the statement|the country|the group)\b",
    re.IGNORECASE,
)
MAX_TURNS = 10


@dataclass
class Turn:
    question: str
    query: str  # the question as retrieval saw it
    answer: str | None


@dataclass
class Conversation:
    turns: list[Turn] = field(default_factory=list)

    def is_followup(self, question: str) -> bool:
        return bool(self.turns) and (bool(BACK_REFERENCE_RE.search(question)) or len(terms(question)) < 2)

    def contextualize(self, question: str) -> str:
        """The query to retrieve with: the question, plus the earlier question it refers to."""
        if not self.is_followup(question):
            return question
        return f"{question} {self.turns[-1].query}"

    def add(self, question: str, query: str, answer: str | None) -> None:
        self.turns.append(Turn(question, query, answer))
        del self.turns[:-MAX_TURNS]
