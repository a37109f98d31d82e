"""Shared state for the processes of one deployment; see `qa.state.base` for the interface.

`open_state` picks the implementation a validated `QA_STATE_URL` names: `qa.state.memory` for
`memory://`, `qa.state.redis` (imported only then, so memory:// never imports redis-py) for
`redis://`.
"""

from __future__ import annotations

from qa.state.base import DEDUPE_TTL_S, Codec, Leader, State, StateUnavailable
from qa.state.memory import MemoryState

__all__ = ["DEDUPE_TTL_S", "Codec", "Leader", "MemoryState", "State", "StateUnavailable", "open_state"]


def open_state(url: str) -> State:
    """The store a validated `QA_STATE_URL` names."""
    if url.startswith("memory:"):
        return MemoryState()
    from qa.state.redis import RedisState

    return RedisState(url)
