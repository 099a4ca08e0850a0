"""MemoryCache: the in-process Cache of the embedded mode (no Redis)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tether.config import CacheSettings
from tether.core.ids import session_of
from tether.state.ports import Census, Entry, Walk

_TOMBSTONE_LIMIT = 100_000


@dataclass(slots=True)
class _Session:
    records: dict[str, Entry] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)


class MemoryCache:
    """Same contract as RedisCache, for one process. Not thread-safe; one event loop owns it."""

    backend = "memory"

    def __init__(
        self, settings: CacheSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = float(settings.ttl_seconds)
        self._cap = settings.max_responses_per_session
        self._clock = clock
        self._sessions: dict[str, _Session] = {}
        # Sessions with a TTL, least recently used first: with one TTL for all, that
        # is also expiry order, so expiring is popping from the front.
        self._expiry: OrderedDict[str, float] = OrderedDict()
        # Removed ids, so a refill racing a delete cannot bring one back (bounded).
        self._tombstones: OrderedDict[str, None] = OrderedDict()

    async def walk(self, response_id: str, limit: int) -> Walk:
        self._expire()
        tag = _session(response_id)
        session = self._sessions.get(tag, _Session())
        self._renew(tag)
        room = max(0, self._cap - len(session.records))
        found: list[bytes] = []
        cursor: str | None = response_id
        while cursor is not None:
            entry = session.records.get(cursor)
            if entry is None or len(found) == limit:
                return Walk(found, cursor, room)
            found.append(entry.data)
            cursor = entry.parent_id
        return Walk(found, None, room)

    async def add_pending(self, entry: Entry) -> bool:
        tag = _session(entry.id)
        session = self._sessions.setdefault(tag, _Session())
        session.records[entry.id] = entry
        session.pending.add(entry.id)
        self._expiry.pop(tag, None)  # held until durable
        return False  # it lives and dies with this process

    async def add_durable(self, entries: Sequence[Entry]) -> None:
        for entry in entries:
            if entry.id not in self._tombstones:
                session = self._sessions.setdefault(_session(entry.id), _Session())
                session.records[entry.id] = entry
        self._settle({_session(entry.id) for entry in entries})

    async def mark_durable(self, entries: Sequence[Entry]) -> None:
        for entry in entries:
            session = self._sessions.get(_session(entry.id))
            if session is not None:
                session.pending.discard(entry.id)
        self._settle({_session(entry.id) for entry in entries})

    async def remove(self, response_id: str) -> bool:
        self._tombstones[response_id] = None
        if len(self._tombstones) > _TOMBSTONE_LIMIT:
            self._tombstones.popitem(last=False)
        tag = _session(response_id)
        session = self._sessions.get(tag)
        if session is None:
            return False
        session.pending.discard(response_id)
        removed = session.records.pop(response_id, None) is not None
        if tag not in self._expiry:
            self._settle({tag})
        return removed

    async def ping(self) -> bool:
        return True

    async def census(self) -> Census:
        self._expire()
        records = [e for session in self._sessions.values() for e in session.records.values()]
        size = sum(len(e.data) for e in records)
        return Census(len(self._sessions), len(records), size, complete=True)

    async def persistence(self) -> str:
        return "none"  # in-process: the database is written before record() returns

    def _settle(self, tags: set[str]) -> None:
        """Trim to the cap (oldest durable first); sessions with nothing pending get a TTL."""
        self._expire()
        for tag in tags:
            session = self._sessions.get(tag)
            if session is None:
                continue
            excess = len(session.records) - self._cap
            by_age = sorted(session.records.values(), key=lambda entry: entry.created_at)
            for entry in by_age:
                if excess <= 0:
                    break
                if entry.id not in session.pending:
                    del session.records[entry.id]
                    excess -= 1
            if not session.records:
                del self._sessions[tag]
                self._expiry.pop(tag, None)
            elif not session.pending:
                self._expiry[tag] = self._clock() + self._ttl
                self._expiry.move_to_end(tag)

    def _renew(self, tag: str) -> None:
        if tag in self._expiry:
            self._expiry[tag] = self._clock() + self._ttl
            self._expiry.move_to_end(tag)

    def _expire(self) -> None:
        now = self._clock()
        while self._expiry:
            tag, deadline = next(iter(self._expiry.items()))
            if deadline > now:
                return
            del self._expiry[tag]
            del self._sessions[tag]


def _session(response_id: str) -> str:
    session = session_of(response_id)
    if session is None:  # the store validates ids first; reaching here is a bug
        raise ValueError(f"not a response id: {response_id!r}")
    return session
