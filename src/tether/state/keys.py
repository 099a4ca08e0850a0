"""Every Redis key name, value layout, stream field and Lua script tether uses, in one place.

Layout (prefix `tether:v1:` by default; `{S}` is the 32-hex session tag carried by
every response id, so all keys of a session share one Redis Cluster hash slot):

    <prefix>{S}:h          hash   response id -> 69-byte parent header + encoded record
                                  (the parent id, or 69 spaces for a root)
    <prefix>{S}:idx        zset   response id -> created_at: the order trimming follows
    <prefix>{S}:pend       set    ids not durable yet. While it is non-empty, :h and
                                  :idx have no TTL (never evicted before durable);
                                  otherwise both expire `ttl_seconds` after the
                                  session's last read or write.
    <prefix>{S}:del:<id>   string tombstone of a deleted response (7 days), so a
                                  pending stream entry or a refill cannot revive it
    <prefix>{S}:dur:<id>   string "already durable" note (10 minutes), left by the writer
                                  for a record it committed but did not find cached
                                  (see Redis Cluster below)
    <prefix>writes         stream pending durable writes, consumer group `tether-writers`
    <prefix>alive:{<prefix>writes}:<name>
                           string one per gateway instance (its writer consumer name),
                                  renewed every half second with a one-minute TTL. Found
                                  missing, it tells that instance Redis lost its data
                                  (restarted empty, flushed): its local copies must go
                                  to the database now, and lookups briefly wait for other
                                  instances doing the same. Its hash tag is the stream's
                                  name, so on a Cluster it lives in the stream's slot: it
                                  vanishes exactly when the stream's shard loses its data.

Reads fetch the session hash in one round trip and follow parent headers in
Python: moving ~2 KB records through Lua costs ~3 us each, which a 50-turn walk
script pays 50 times (measured: a 50-turn lookup 0.46 ms as a pipeline, 0.56 ms
with the HGETALL inside a script). Writes that must be
conditional (marking durable, trimming, refills, deletes) are Lua scripts, and every
script takes only keys of one session: one slot.

Redis Cluster. The stream (with the markers) is the only data outside a session's
slot, so recording a turn cannot be one script there. On one server (or a Sentinel
primary) it is (RECORD): record, index, pending flag and journal entry together. On a
Cluster the journal entry is written first and the session second (ADD_PENDING),
each atomic on its own shard:
- a crash (or a failure) between the two leaves a journal entry whose record was
  never cached: the writer commits it, a turn no client saw — harmless, and the
  client's request degrades to a synchronous database write anyway;
- the reverse order could leave a record pending with no journal entry: held
  without TTL forever, or lost if nothing else had it;
- a writer fast enough to commit the entry before the session write lands finds
  nothing to settle; it leaves a `dur` note, and ADD_PENDING, seeing it, caches the
  record as durable instead of pending (else the session would never expire).
One stream per shard was the alternative; a stream per slot is 16,384 streams to
poll, and a stream per node needs keys placed by a topology that can change.

Loss detection on a Cluster covers the stream's shard (the marker lives there);
another shard restarted empty loses only cached records, whose journal entries
survive: the writer commits them, and reconcile writes any local copy found gone.

PEXPIRE NX/XX needs Redis >= 7.0.
"""

from __future__ import annotations

from collections.abc import Mapping

from redis.typing import EncodableT

from tether.core.ids import session_of
from tether.state.entry import Entry

KEY_PREFIX = "tether:v1:"
WRITER_GROUP = "tether-writers"
TOMBSTONE_SECONDS = 7 * 24 * 3600
# A `dur` note outlives any plausible gap between a journal entry and its session write.
DURABLE_NOTE_SECONDS = 600
MARKER_MS = 60_000  # an instance's `alive` marker outlives a minute without renewal
ID_LENGTH = 69  # "resp_" + 32 hex session + 32 hex random
_ROOT = b" " * ID_LENGTH


class Keys:
    """Key names under one prefix; tests and side-by-side deployments use their own."""

    __slots__ = ("prefix", "stream")

    def __init__(self, prefix: str = KEY_PREFIX) -> None:
        self.prefix = prefix
        self.stream = f"{prefix}writes"

    def records(self, session: str) -> str:
        return f"{self.prefix}{{{session}}}:h"

    def index(self, session: str) -> str:
        return f"{self.prefix}{{{session}}}:idx"

    def pending(self, session: str) -> str:
        return f"{self.prefix}{{{session}}}:pend"

    def session_keys(self, session: str) -> list[str]:
        """The keys every session script takes first: records, index, pending."""
        return [self.records(session), self.index(session), self.pending(session)]

    def alive(self, instance: str) -> str:
        # Hash-tagged with the stream's name: the stream's slot on a Cluster.
        return f"{self.prefix}alive:{{{self.stream}}}:{instance}"

    def tombstone(self, response_id: str) -> str:
        return f"{self.prefix}{{{session_tag(response_id)}}}:del:{response_id}"

    def durable_note(self, response_id: str) -> str:
        return f"{self.prefix}{{{session_tag(response_id)}}}:dur:{response_id}"


def session_tag(response_id: str) -> str:
    session = session_of(response_id)
    if session is None:  # callers validate ids first; reaching here is a bug
        raise ValueError(f"not a response id: {response_id!r}")
    return session


def pack(entry: Entry) -> bytes:
    """The hash value: a fixed-size parent header, then the record as it is."""
    parent = entry.parent_id.encode() if entry.parent_id else _ROOT
    return parent + entry.data


def parent_of(value: bytes) -> bytes | None:
    header = value[:ID_LENGTH]
    return None if header == _ROOT else header


def record_of(value: bytes) -> bytes:
    return value[ID_LENGTH:]


def stream_args(entry: Entry) -> list[EncodableT]:
    """The journal entry as XADD's field/value list (`entry_from_fields` reads it back)."""
    return [
        "id",
        entry.id,
        "s",
        entry.session,
        "p",
        entry.parent_id or "",
        "o",
        entry.owner,
        "t",
        repr(entry.created_at),
        "r",
        entry.data,
    ]


def entry_from_fields(fields: Mapping[bytes, bytes]) -> Entry:
    return Entry(
        id=fields[b"id"].decode(),
        session=fields[b"s"].decode(),
        parent_id=fields[b"p"].decode() or None,
        owner=fields[b"o"].decode(),
        created_at=float(fields[b"t"]),
        data=fields[b"r"],
    )


# Shared by the scripts below. KEYS[1..3] are always records, index, pending.
# settle(): trim the session to `cap` records by dropping its oldest durable ones
# (pending ones are never dropped), then give it its TTL if nothing is pending.
_SETTLE = """
local h, idx, pend = KEYS[1], KEYS[2], KEYS[3]
local function settle(ttl, cap)
  local excess = redis.call('HLEN', h) - cap
  if excess > 0 then
    for _, id in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
      if excess <= 0 then break end
      if redis.call('SISMEMBER', pend, id) == 0 then
        excess = excess - redis.call('HDEL', h, id)
        redis.call('ZREM', idx, id)
      end
    end
  end
  if redis.call('SCARD', pend) == 0 then
    redis.call('PEXPIRE', h, ttl)
    redis.call('PEXPIRE', idx, ttl)
  end
end
"""

# KEYS[4..]: a `dur` note per record. ARGV: ttl ms, cap, note seconds, then
# (created_at, id) per record now in the database. A record not cached (yet) gets
# its note: on a Cluster its session write may still be on the way.
MARK_DURABLE = (
    _SETTLE
    + """
for j = 4, #KEYS do
  local a = 4 + (j - 4) * 2
  redis.call('SREM', pend, ARGV[a + 1])
  if redis.call('HEXISTS', h, ARGV[a + 1]) == 1 then
    redis.call('ZADD', idx, ARGV[a], ARGV[a + 1])
  else
    redis.call('SET', KEYS[j], '1', 'EX', ARGV[3])
  end
end
settle(ARGV[1], tonumber(ARGV[2]))
return 0
"""
)

# One server (or a Sentinel primary): a lookup's upkeep, in the pipeline beside its
# HGETALL (or HGET). KEYS: records, index, this instance's marker (or the records again,
# when there is none). ARGV: ttl ms, marker ms (0: no marker). Renews the session's TTL
# (XX: it keeps off sessions still holding pending records); returns 1 if the marker
# was missing (Redis lost data), else 0. One reply instead of three; the records
# themselves stay out of Lua (above).
TOUCH = """
redis.call('PEXPIRE', KEYS[1], ARGV[1], 'XX')
redis.call('PEXPIRE', KEYS[2], ARGV[1], 'XX')
if ARGV[2] ~= '0' and redis.call('SET', KEYS[3], '1', 'PX', ARGV[2], 'NX') then
  return 1
end
return 0
"""

# One server (or a Sentinel primary): the whole record in one call. KEYS[4]: the
# stream, KEYS[5]: this instance's marker (or the stream again, when there is none).
# ARGV: id, packed value, created_at, marker ms (0: no marker), then the stream
# entry's field/value pairs. Returns 1 when the marker was missing: Redis lost data.
RECORD = """
local h, idx, pend = KEYS[1], KEYS[2], KEYS[3]
redis.call('HSET', h, ARGV[1], ARGV[2])
redis.call('ZADD', idx, ARGV[3], ARGV[1])
redis.call('SADD', pend, ARGV[1])
redis.call('PERSIST', h)
redis.call('PERSIST', idx)
redis.call('XADD', KEYS[4], '*', unpack(ARGV, 5))
if ARGV[4] ~= '0' and redis.call('SET', KEYS[5], '1', 'PX', ARGV[4], 'NX') then
  return 1
end
return 0
"""

# Redis Cluster's session write, after the journal entry (see the module notes).
# KEYS[4]: the record's `dur` note. ARGV: ttl ms, cap, id, packed value, created_at.
ADD_PENDING = (
    _SETTLE
    + """
redis.call('HSET', h, ARGV[3], ARGV[4])
redis.call('ZADD', idx, ARGV[5], ARGV[3])
if redis.call('EXISTS', KEYS[4]) == 1 then
  settle(ARGV[1], tonumber(ARGV[2]))
else
  redis.call('SADD', pend, ARGV[3])
  redis.call('PERSIST', h)
  redis.call('PERSIST', idx)
end
return 0
"""
)

# KEYS[4..]: a tombstone per record. ARGV: ttl ms, cap, then (created_at, id,
# packed value) per record read back from the database; tombstoned ones are skipped.
REFILL = (
    _SETTLE
    + """
for j = 4, #KEYS do
  local a = 3 + (j - 4) * 3
  if redis.call('EXISTS', KEYS[j]) == 0 then
    redis.call('HSET', h, ARGV[a + 1], ARGV[a + 2])
    redis.call('ZADD', idx, ARGV[a], ARGV[a + 1])
  end
end
settle(ARGV[1], tonumber(ARGV[2]))
return 0
"""
)

# KEYS[4]: the tombstone. ARGV: ttl ms, id, tombstone seconds. Returns 1 if it was cached.
REMOVE = """
local h, idx, pend = KEYS[1], KEYS[2], KEYS[3]
local removed = redis.call('HDEL', h, ARGV[2])
redis.call('ZREM', idx, ARGV[2])
redis.call('SREM', pend, ARGV[2])
redis.call('SET', KEYS[4], '1', 'EX', ARGV[3])
if redis.call('SCARD', pend) == 0 then
  redis.call('PEXPIRE', h, ARGV[1], 'NX')
  redis.call('PEXPIRE', idx, ARGV[1], 'NX')
end
return removed
"""
