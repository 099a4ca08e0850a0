"""Turns to store: single, in chains, of any size (ids as tether issues them)."""

from __future__ import annotations

import itertools

from tether.core.ids import new_item_id, new_response_id, new_session_tag, session_of
from tether.core.items import user_message
from tether.core.records import Turn

_clock = itertools.count()


def make_turn(
    parent: Turn | None = None, *, owner: str = "alice", text: str = "hello", pad: int = 0
) -> Turn:
    session = session_of(parent.id) if parent else new_session_tag()
    assert session is not None
    response_id = new_response_id(session)
    reply = {
        "id": new_item_id("msg_"),
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": f"re: {text}" + "x" * pad, "annotations": []}],
    }
    return Turn(
        id=response_id,
        session=session,
        parent_id=parent.id if parent else None,
        owner=owner,
        # Strictly increasing, so "oldest" is well defined even within a microsecond.
        created_at=1_700_000_000.0 + next(_clock) / 1000,
        input_items=[{"id": new_item_id("msg_"), **user_message(text)}],
        response={"id": response_id, "object": "response", "output": [reply]},
    )


def make_chain(length: int, **kwargs: object) -> list[Turn]:
    chain: list[Turn] = []
    for i in range(length):
        chain.append(make_turn(chain[-1] if chain else None, text=f"turn {i}", **kwargs))  # type: ignore[arg-type]
    return chain


def ids(turns: list[Turn]) -> list[str]:
    return [turn.id for turn in turns]
