"""What one WebSocket connection remembers: its `store: false` turns and its latest chain.

Pure and connection-local: nothing here is shared with another connection or instance,
so a `store: false` response can be continued only on the socket that made it. The
latest chain is kept whole, so continuing the connection's own latest response needs no
lookup in the store; any other id is resolved as far as memory goes and the rest is
named for the store to load.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from tether.core.records import Turn, encode_turn

MAX_TURNS = 256  # `store: false` responses one connection holds
MAX_BYTES = 64 * 1024 * 1024  # and their encoded size


@dataclass(frozen=True, slots=True)
class Resolved:
    """A chain as far as memory knows it: `known`, oldest first, continues `missing` (an
    ancestor the store must load, then prepended) unless `missing` is None."""

    known: list[Turn]
    missing: str | None


class ConnectionMemory:
    """`store: false` turns, the oldest forgotten first past `max_turns` or `max_bytes`."""

    def __init__(self, max_turns: int = MAX_TURNS, max_bytes: int = MAX_BYTES) -> None:
        self.max_turns = max_turns
        self.max_bytes = max_bytes
        self._local: OrderedDict[str, tuple[Turn, int]] = OrderedDict()
        self._bytes = 0
        self._latest: list[Turn] = []  # the chain ending with the latest response

    @property
    def size(self) -> tuple[int, int]:
        """(turns, bytes) held for `store: false` responses."""
        return len(self._local), self._bytes

    def resolve(self, response_id: str) -> Resolved:
        if self._latest and self._latest[-1].id == response_id:
            return Resolved(list(self._latest), None)
        positions = {turn.id: i for i, turn in enumerate(self._latest)}
        suffix: list[Turn] = []
        current: str | None = response_id
        while current is not None:
            if current in positions:
                return Resolved(self._latest[: positions[current] + 1] + suffix[::-1], None)
            held = self._local.get(current)
            if held is None:
                return Resolved(suffix[::-1], current)
            suffix.append(held[0])
            current = held[0].parent_id
        return Resolved(suffix[::-1], None)

    def remember(self, chain: list[Turn], turn: Turn, *, stored: bool) -> int:
        """`turn` answered `chain`; it becomes the latest. Only `store: false` turns are
        held beyond the latest chain: the store keeps the others. Returns how many older
        turns the bound made it forget."""
        self._latest = [*chain, turn]
        if stored:
            return 0
        size = len(encode_turn(turn))
        self._local[turn.id] = (turn, size)
        self._bytes += size
        forgotten = 0
        while len(self._local) > self.max_turns or self._bytes > self.max_bytes:
            self._drop(next(iter(self._local)))
            forgotten += 1
        return forgotten

    def evict(self, response_id: str) -> None:
        """A continuation of `response_id` failed: forget it (OpenAI's rule)."""
        self._drop(response_id)

    def _drop(self, response_id: str) -> None:
        held = self._local.pop(response_id, None)
        if held is not None:
            self._bytes -= held[1]
        if any(turn.id == response_id for turn in self._latest):
            self._latest = []  # a chain missing a link can no longer be replayed whole
