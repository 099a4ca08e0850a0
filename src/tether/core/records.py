"""A stored turn: one response with the input that produced it, and its wire form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from tether.core.items import Item

RECORD_VERSION = 1


@dataclass(frozen=True, slots=True)
class Turn:
    """One link of a chain. `response` is the full Response object as returned."""

    id: str
    session: str
    parent_id: str | None
    owner: str
    created_at: float
    input_items: list[Item]
    response: dict[str, Any]

    @property
    def output_items(self) -> list[Item]:
        output: list[Item] = self.response["output"]
        return output


def encode_turn(turn: Turn) -> bytes:
    """The record's bytes, held only as large as they are: orjson hands back its working
    buffer (16 KiB at least) as the bytes, and a record stays in memory until durable."""
    return bytes(memoryview(_dumps_record(turn)))


def _dumps_record(turn: Turn) -> bytes:
    return orjson.dumps(
        {
            "v": RECORD_VERSION,
            "id": turn.id,
            "session": turn.session,
            "parent": turn.parent_id,
            "owner": turn.owner,
            "created_at": turn.created_at,
            "input": turn.input_items,
            "response": turn.response,
        }
    )


def decode_turn(data: bytes | str) -> Turn:
    raw = orjson.loads(data)
    return Turn(
        id=raw["id"],
        session=raw["session"],
        parent_id=raw["parent"],
        owner=raw["owner"],
        created_at=raw["created_at"],
        input_items=raw["input"],
        response=raw["response"],
    )
