"""Identifiers: response ids that carry their session, item ids, validation."""

from __future__ import annotations

import hashlib
import os
import re

# A response id is `resp_` + 32 hex chars of session tag + 32 hex chars of its
# own randomness (128 bits). Carrying the session lets every key of a session
# share one Redis Cluster hash tag and lets a chain be found from any id alone.
_HEX_RE = r"[0-9a-f]{32}"
RESPONSE_ID_RE = re.compile(rf"^resp_({_HEX_RE})({_HEX_RE})$")


class _Entropy:
    """Bytes from os.urandom (what `secrets` uses), read 4 KiB at a time rather than one
    system call an id. Kept because `bench/ab.py` shows it pays, with `deadline` (see
    docs/architecture.md). Called from the event loop's thread only; a forked child starts
    with a fresh buffer so it never repeats its parent's ids."""

    __slots__ = ("_buffer", "_used")
    SIZE = 4096

    def __init__(self) -> None:
        self._buffer = b""
        self._used = 0

    def hex(self, nbytes: int) -> str:
        start = self._used
        if start + nbytes > len(self._buffer):
            self._buffer, start = os.urandom(self.SIZE), 0
        self._used = start + nbytes
        return self._buffer[start : start + nbytes].hex()

    def reset(self) -> None:
        self._buffer, self._used = b"", 0


_entropy = _Entropy()
os.register_at_fork(after_in_child=_entropy.reset)
_random_hex = _entropy.hex


def new_session_tag() -> str:
    return _random_hex(16)


def named_session_tag(owner: str, name: str) -> str:
    """A client-named session, scoped to its owner so names never collide across keys."""
    digest = hashlib.blake2b(f"{owner}\x00{name}".encode(), digest_size=16)
    return digest.hexdigest()


def new_response_id(session_tag: str) -> str:
    return f"resp_{session_tag}{_random_hex(16)}"


def session_of(response_id: str) -> str | None:
    """The session tag a response id carries, or None when the id is not one of ours."""
    match = RESPONSE_ID_RE.match(response_id)
    return match.group(1) if match else None


def is_response_id(value: str) -> bool:
    return RESPONSE_ID_RE.match(value) is not None


def new_request_id() -> str:
    return f"req_{_random_hex(12)}"


def new_item_id(prefix: str) -> str:
    return f"{prefix}{_random_hex(24)}"
