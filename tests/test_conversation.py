"""Conversation memory is bounded in number and age; follow-ups are detected by their wording."""

from __future__ import annotations

import time

from qa.conversation import Conversation, ConversationStore


def test_store_bounds_the_number_of_conversations():
    store = ConversationStore(max_conversations=3, ttl_s=60)
    ids = [store.get(None)[0] for _ in range(5)]
    assert len(store) == 3
    assert not store.has(ids[0]) and store.has(ids[-1])
    store.get(ids[2])  # touching a conversation keeps it
    store.get(None)
    assert store.has(ids[2]) and not store.has(ids[3])


def test_store_forgets_idle_conversations():
    store = ConversationStore(max_conversations=10, ttl_s=0.2)
    key, conversation = store.get("thread-1")
    conversation.add("q", "q", "a")
    assert store.get("thread-1")[1] is conversation
    time.sleep(0.3)
    assert not store.has("thread-1")
    assert store.get("thread-1")[1].turns == []


def test_followups_borrow_the_previous_question():
    conversation = Conversation()
    assert conversation.contextualize("When was that?") == "When was that?"
    conversation.add("Which jets did Iran buy?", "Which jets did Iran buy?", "Su-35 [1]")
    assert conversation.contextualize("When was that?") == "When was that? Which jets did Iran buy?"
    assert conversation.contextualize("Who is Nasser Kanani?") == "Who is Nasser Kanani?"
