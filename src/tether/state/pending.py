"""PendingCopies: this instance's own copy of every record it wrote that is not durable yet.

Redis survives this process dying; this copy survives Redis restarting empty (it
often runs without persistence). Only both at once can lose a turn.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Iterable

from tether.state.ports import Entry

log = logging.getLogger("tether.state")


class PendingCopies:
    """Bounded: past `limit` records a new one is not copied, counted and logged as an error."""

    def __init__(self, limit: int = 100_000) -> None:
        self._limit = limit
        self._entries: OrderedDict[str, tuple[Entry, float]] = OrderedDict()  # oldest first
        # Ids deleted lately, so a direct write racing a delete can be undone.
        self._deleted: OrderedDict[str, None] = OrderedDict()
        self.dropped = 0
        self._overflowing = False

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, entry: Entry) -> None:
        if len(self._entries) >= self._limit and entry.id not in self._entries:
            self.dropped += 1
            if not self._overflowing:
                self._overflowing = True
                log.error(
                    "local copies of pending records are full (%d); new records rely on "
                    "Redis alone until the durable writer catches up",
                    self._limit,
                )
            return
        self._overflowing = False
        self._entries[entry.id] = (entry, time.monotonic())
        self._entries.move_to_end(entry.id)

    def get(self, response_id: str) -> Entry | None:
        found = self._entries.get(response_id)
        return found[0] if found else None

    def lineage(self, response_id: str | None) -> list[Entry]:
        """The copies of response_id and its ancestors, oldest first, up to the first not held."""
        found: list[Entry] = []
        while response_id is not None and (entry := self.get(response_id)) is not None:
            found.append(entry)
            response_id = entry.parent_id
        return found[::-1]

    def discard(self, ids: Iterable[str]) -> None:
        for response_id in ids:
            self._entries.pop(response_id, None)

    def forget(self, response_id: str) -> None:
        """A deletion: drop the copy and remember the id for a while."""
        self._entries.pop(response_id, None)
        self._deleted[response_id] = None
        while len(self._deleted) > self._limit:
            self._deleted.popitem(last=False)

    def deleted(self, ids: Iterable[str]) -> set[str]:
        return {response_id for response_id in ids if response_id in self._deleted}

    def oldest_age(self) -> float | None:
        """Seconds the oldest copy has waited for the database; None when none waits."""
        for _entry, since in self._entries.values():
            return time.monotonic() - since
        return None

    def older_than(self, seconds: float) -> list[Entry]:
        """Copies held for at least `seconds`, oldest first."""
        cutoff = time.monotonic() - seconds
        found = []
        for entry, since in self._entries.values():
            if since > cutoff:
                break
            found.append(entry)
        return found
