"""Every Redis key tether uses, and what its value holds. Prefix `tether:v1:` by default;
`{S}` is the 32-hex session tag every response id carries, so all keys of a session
share one Redis Cluster hash slot (docs/architecture.md tells why and how it is used):

    <prefix>{S}:h          hash   response id -> parent header (`pack`) + encoded record
    <prefix>{S}:idx        zset   response id -> created_at: the order trimming follows
    <prefix>{S}:pend       set    ids not durable yet (while non-empty, :h and :idx keep no TTL)
    <prefix>{S}:del:<id>   string tombstone of a deleted response (7 days)
    <prefix>{S}:dur:<id>   string "already durable" note the writer leaves on a Cluster (10 min)
    <prefix>writes         stream records waiting for the database, group `tether-writers`
    <prefix>alive:{<prefix>writes}:<name>
                           string one per instance; found missing, Redis lost its data
    <prefix>alive:{shard-<n>}:<name>
                           string the same, on each other primary of a Cluster

The TTL, cap and trimming policy is in `scripts`; the journal's format in `journal`.
"""

from __future__ import annotations

from tether.core.ids import session_of
from tether.state.ports import Entry

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

    def alive(self, instance: str, tag: str | None = None) -> str:
        """An instance's marker; by default hash-tagged with the stream's name (the stream's
        slot on a Cluster), or with `tag` to place one on another shard."""
        return f"{self.prefix}alive:{{{tag or self.stream}}}:{instance}"

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
