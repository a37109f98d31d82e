"""Conversations: created only on request, bounded in number and age, one question at a time each."""

from __future__ import annotations

import threading

import pytest
from processes import wait_until

from qa.conversation import Conversation, ConversationService
from qa.errors import ConversationNotFound, ErrorKind


def test_service_bounds_the_number_of_conversations():
    service = ConversationService(max_conversations=3, idle_s=60)
    ids = [service.start() for _ in range(5)]
    assert len(service) == 3
    assert not service.has(ids[0]) and service.has(ids[-1])
    service.get(ids[2])  # using a conversation keeps it
    service.start()
    assert service.has(ids[2]) and not service.has(ids[3])


def test_service_forgets_idle_conversations():
    service = ConversationService(max_conversations=10, idle_s=0.2)
    key = service.start("thread-1")
    conversation = service.get(key)
    conversation.add("q", "q", "a")
    assert service.get("thread-1") is conversation
    wait_until(lambda: not service.has("thread-1"), 2, "the idle conversation being forgotten")
    with pytest.raises(ConversationNotFound) as caught:
        service.get("thread-1")
    assert caught.value.kind is ErrorKind.NOT_FOUND
    assert service.get_or_start("thread-1").turns == []


def test_a_question_holds_its_conversation(pipeline, monkeypatch):
    """A follow-up asked while the first question is still being answered waits for it, then builds on it.

    The first question is inside the answerer before the follow-up is sent, so the order is fixed:
    the follow-up must see the first turn (its query carries the first question), and never run
    beside it."""
    cid = pipeline.conversations.start()
    conversation = pipeline.conversations.get(cid)
    first, follow_up = "Which fighter jets did Iran finalize a deal to buy from Russia?", "When was that?"
    held: list[bool] = []
    answering: list[str] = []  # questions inside the answerer right now
    overlapped: list[list[str]] = []
    first_inside, follow_up_sent = threading.Event(), threading.Event()
    answerer = pipeline.loaded.answerer
    real = answerer.run

    def run(question, hits, focus=None, avoid=None, read=True, search_since=None):
        held.append(conversation.lock.locked())
        answering.append(question)
        if len(answering) > 1:
            overlapped.append(list(answering))
        first_inside.set()
        follow_up_sent.wait(timeout=30)
        try:
            return real(question, hits, focus=focus, avoid=avoid, read=read, search_since=search_since)
        finally:
            answering.remove(question)

    monkeypatch.setattr(answerer, "run", run)
    threads = [threading.Thread(target=pipeline.ask, args=(q,), kwargs={"conversation_id": cid}) for q in (first, follow_up)]
    threads[0].start()
    assert first_inside.wait(timeout=30)
    threads[1].start()
    follow_up_sent.set()
    for thread in threads:
        thread.join(timeout=60)
    assert held == [True, True] and overlapped == []
    assert [turn.question for turn in conversation.turns] == [first, follow_up]
    assert conversation.turns[1].query == f"{follow_up} {first}"


def test_followups_borrow_the_previous_question():
    conversation = Conversation()
    assert conversation.contextualize("When was that?") == "When was that?"
    conversation.add("Which jets did Iran buy?", "Which jets did Iran buy?", "Su-35 [1]")
    assert conversation.contextualize("When was that?") == "When was that? Which jets did Iran buy?"
    assert conversation.contextualize("Who is Nasser Kanani?") == "Who is Nasser Kanani?"
