"""Follow-up questions: "When was that?" only makes sense next to the turn before it.

A follow-up (a question that points back with "that", "it", "he"... or has almost no content
words of its own) is retrieved together with the previous question, so it lands on the same
story. The earlier turns only resolve references: the answer kind and focus come from the
follow-up's own words, "he"/"she"/"they" become the person or organization the last answer
named, and an answer already given in the conversation is not given again to a new question
("What did Iran say about it?" after "When did Iran host Shoigu?" gets a new sentence).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field

from qa.errors import ConversationNotFound
from qa.state import Codec, MemoryState, State
from qa.text import terms

BACK_REFERENCE_RE = re.compile(
    r"\b(it|its|that|this|those|these|they|them|their|he|him|his|she|her|there|then|the same|"
    r"the deal|the meeting|the report|the statement|the country|the group)\b",
    re.IGNORECASE,
)
MAX_TURNS = 10


PERSONAL_RE = re.compile(r"\b(he|she|him|her|his|hers|they|them|their)\b", re.IGNORECASE)
POSSESSIVES = {"his", "her", "hers", "their"}
NAMING_KINDS = {"person", "organization"}


@dataclass
class Turn:
    question: str
    query: str  # the question as retrieval saw it
    answer: str | None
    short_answer: str | None = None
    kind: str | None = None
    evidence: tuple[tuple[str, int, int], ...] = ()  # (doc_id, start, end) of each cited sentence and its reposts


@dataclass
class Conversation:
    turns: list[Turn] = field(default_factory=list)
    # Held for a whole question (contextualize → answer → add): two requests on one conversation
    # (two browser tabs, a Slack thread answered twice) take turns instead of interleaving. This is
    # the lock for memory://; on Redis `ConversationService.hold` takes a lock every replica sees.
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def is_followup(self, question: str) -> bool:
        return bool(self.turns) and (bool(BACK_REFERENCE_RE.search(question)) or len(terms(question)) < 2)

    def contextualize(self, question: str) -> str:
        """The query to retrieve with: the question, plus the earlier question it refers to."""
        if not self.is_followup(question):
            return question
        return f"{question} {self.turns[-1].query}"

    def resolve(self, question: str) -> str:
        """The question the answerer scores: references resolved against the last turn.

        "What did he say?" after an answer naming John Kirby → "What did John Kirby say?";
        "When was that?" → "When was that? (previous question)", so the topic's words count.
        """
        if not self.is_followup(question):
            return question
        last = self.turns[-1]
        resolved = question
        if last.short_answer and last.kind in NAMING_KINDS and PERSONAL_RE.search(question):
            name = last.short_answer

            def substitute(match: re.Match[str]) -> str:
                return f"{name}'s" if match.group(1).lower() in POSSESSIVES else name

            resolved = PERSONAL_RE.sub(substitute, question)
        return f"{resolved} ({last.question})"

    def given_answers(self) -> set[tuple[str, int, int, str | None]]:
        """Evidence and short answer of every earlier answer: not to be repeated to a new question."""
        return {(*e, (t.short_answer or "").lower() or None) for t in self.turns for e in t.evidence}

    def add(
        self,
        question: str,
        query: str,
        answer: str | None,
        *,
        short_answer: str | None = None,
        kind: str | None = None,
        evidence: tuple[tuple[str, int, int], ...] = (),
    ) -> None:
        self.turns.append(Turn(question, query, answer, short_answer, kind, evidence))
        del self.turns[:-MAX_TURNS]


def _dump(conversation: Conversation) -> str:
    return json.dumps({"turns": [asdict(turn) for turn in conversation.turns]}, ensure_ascii=False)


def _load(text: str) -> Conversation:
    turns = json.loads(text)["turns"]
    return Conversation([Turn(**{**t, "evidence": tuple(tuple(e) for e in t["evidence"])}) for t in turns])


CODEC = Codec(_dump, _load)  # how Redis stores a conversation: its turns as JSON


class ConversationService:
    """Conversations by id, created only on request and bounded in number and idle age.

    A conversation exists because a client started one (`start`), never as a side effect of a
    one-shot question, so one-shot traffic cannot evict anyone. Past `max_conversations` the
    least recently used is dropped; one unused for `idle_s` is forgotten. Used by the HTTP API
    (`start_conversation` / `conversation_id`), the Slack bot (one per thread) and `qa chat`.

    Conversations live in the shared state (`QA_STATE_URL`): in this process for memory://, in
    Redis for redis://, where every replica sees them and `hold` locks one across processes.
    """

    def __init__(self, max_conversations: int = 1000, idle_s: float = 3600.0, state: State | None = None) -> None:
        self._items = (state or MemoryState()).records("conversation", CODEC, max_conversations, idle_s)

    def __len__(self) -> int:
        return len(self._items)

    @staticmethod
    def _not_found(conversation_id: str) -> ConversationNotFound:
        return ConversationNotFound(
            f"no conversation {conversation_id!r}: it was never started or was forgotten after being idle; start a new one"
        )

    def start(self, conversation_id: str | None = None) -> str:
        """A new, empty conversation (under `conversation_id` if given); returns its id."""
        key = conversation_id or uuid.uuid4().hex
        self._items.put(key, Conversation())
        return key

    def has(self, conversation_id: str) -> bool:
        """Whether a live conversation has this id (does not count as use)."""
        return self._items.has(conversation_id)

    def get(self, conversation_id: str) -> Conversation:
        """The live conversation with this id (a copy, from Redis), now counted as used; ConversationNotFound if none."""
        conversation = self._items.get(conversation_id)
        if conversation is None:
            raise self._not_found(conversation_id)
        return conversation

    def get_or_start(self, conversation_id: str) -> Conversation:
        """The conversation with this id, started if absent (a Slack thread names its own)."""
        with self._items.hold(conversation_id, create=Conversation) as conversation:
            return conversation

    def hold(self, conversation_id: str) -> AbstractContextManager[Conversation]:
        """The conversation locked for one question (across processes on Redis): loaded, changed by
        the caller, saved back when the block succeeds. ConversationNotFound if there is none."""

        def missing() -> Conversation:
            raise self._not_found(conversation_id)

        return self._items.hold(conversation_id, create=missing)
