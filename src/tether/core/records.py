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
    """The record's bytes, held only as large as they are.

    orjson hands back its working buffer (16 KiB at least, growing by doubling) as the
    bytes object; a record lives on in memory until it is durable, so it is copied to
    its own size: for 2 KB turns that was 8 times the memory, for 100 KB ones 9 times.
    """
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


class DecodedRecords:
    """Records decoded once: a 10-turn chain lookup decodes 10 records, 9 of them the
    same as the previous turn's lookup (measured: 123 -> 66 us of CPU a lookup).

    Keyed by the record's bytes, so nothing can go stale: the same bytes decode to the
    same turn, and what a lookup finds is still decided by the store. The turns are
    shared between requests: nothing may change them in place (history assembly and
    the provider formats build new objects; tests/unit/test_history.py checks that).
    Bounded by the bytes of the records held; the oldest entry goes first.
    """

    __slots__ = ("_held", "_limit", "_turns")

    def __init__(self, limit_bytes: int = 8 * 1024 * 1024) -> None:
        self._turns: dict[bytes, Turn] = {}
        self._held = 0
        self._limit = limit_bytes

    @property
    def held(self) -> int:
        """Bytes of the records held."""
        return self._held

    def decode(self, data: bytes) -> Turn:
        turn = self._turns.get(data)
        if turn is None:
            turn = decode_turn(data)
            if len(data) <= self._limit // 16:  # a huge record would push out everything
                self._keep(data, turn)
        return turn

    def _keep(self, data: bytes, turn: Turn) -> None:
        while self._turns and self._held + len(data) > self._limit:
            oldest = next(iter(self._turns))
            del self._turns[oldest]
            self._held -= len(oldest)
        self._turns[data] = turn
        self._held += len(data)
