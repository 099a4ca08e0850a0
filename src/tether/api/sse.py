"""Server-sent events: each event encoded as one chunk."""

from __future__ import annotations

from typing import Any

import orjson


def encode(event: dict[str, Any]) -> bytes:
    kind: str = event["type"]
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


def encode_all(events: list[dict[str, Any]]) -> bytes:
    return b"".join(encode(event) for event in events)
