"""A turn in its stored form: the columns the state layer routes on, plus the encoded record."""

from __future__ import annotations

from dataclasses import dataclass

from tether.core.records import Turn, decode_turn, encode_turn


@dataclass(frozen=True, slots=True)
class Entry:
    """What every backend stores. `data` is `encode_turn` output, kept as bytes end to end."""

    id: str
    session: str
    parent_id: str | None
    owner: str
    created_at: float
    data: bytes

    @classmethod
    def of(cls, turn: Turn) -> Entry:
        return cls(
            turn.id, turn.session, turn.parent_id, turn.owner, turn.created_at, encode_turn(turn)
        )

    def turn(self) -> Turn:
        return decode_turn(self.data)
