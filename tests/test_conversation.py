"""Conversations: created only on request, bounded in number and age, one question at a time each."""

from __future__ import annotations

import threading
import time

import pytest

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
    time.sleep(0.3)
    assert not service.has("thread-1")
    with pytest.raises(ConversationNotFound) as caught:
        service.get("thread-1")
    assert caught.value.kind is ErrorKind.NOT_FOUND
    assert service.get_or_start("thread-1").turns == []


def test_a_question_holds_its_conversation(pipeline, monkeypatch):
    """Two threads on one conversation take turns: the answerer runs with the conversation locked."""
    cid = pipeline.conversations.start()
    conversation = pipeline.conversations.get(cid)
    held: list[bool] = []
    answerer = pipeline.loaded.answerer
    real = answerer.run

    def run(question, hits, focus=None, avoid=None, read=True):
        held.append(conversation.lock.locked())
        time.sleep(0.05)
        return real(question, hits, focus=focus, avoid=avoid, read=read)

    monkeypatch.setattr(answerer, "run", run)
    questions = ["Which fighter jets did Iran finalize a deal to buy from Russia?", "When was that?"]
    threads = [threading.Thread(target=pipeline.ask, args=(q,), kwargs={"conversation_id": cid}) for q in questions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert held == [True, True]
    assert len(conversation.turns) == 2
    second = conversation.turns[1]
    assert second.query in (second.question, f"{second.question} {conversation.turns[0].query}")


def test_followups_borrow_the_previous_question():
    conversation = Conversation()
    assert conversation.contextualize("When was that?") == "When was that?"
    conversation.add("Which jets did Iran buy?", "Which jets did Iran buy?", "Su-35 [1]")
    assert conversation.contextualize("When was that?") == "When was that? Which jets did Iran buy?"
    assert conversation.contextualize("Who is Nasser Kanani?") == "Who is Nasser Kanani?"
