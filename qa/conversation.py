"""Follow-up questions: "When was that?" only makes sense next to the turn before it.

A follow-up (a question that points back with "that", "it", "he"... or has almost no content
words of its own) is retrieved together with the previous question, so it lands on the same
story; the answer type still comes from the follow-up's own words.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

from qa.expiring import ExpiringMap
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


class ConversationStore:
    """Conversations by id, bounded in number and age so memory cannot grow without limit.

    Used by the HTTP API (`conversation_id`) and the Slack bot (one conversation per thread).
    """

    def __init__(self, max_conversations: int = 1000, ttl_s: float = 3600.0) -> None:
        self._items: ExpiringMap[Conversation] = ExpiringMap(max_conversations, ttl_s)

    def __len__(self) -> int:
        return len(self._items)

    def has(self, conversation_id: str) -> bool:
        """Whether a live (unexpired) conversation has this id."""
        return conversation_id in self._items

    def get(self, conversation_id: str | None) -> tuple[str, Conversation]:
        """The live conversation with this id, or a new one (under this id if one was given)."""
        key = conversation_id or uuid.uuid4().hex
        return key, self._items.touch(key, Conversation)
