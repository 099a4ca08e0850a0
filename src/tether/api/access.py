"""The request log: one line per HTTP request or WebSocket turn."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("tether.access")


def log_access(
    method: str,
    path: str,
    status: int,
    fields: dict[str, Any],
    code: str | None = None,
    param: str | None = None,
) -> None:
    """One line of the request log (HTTP requests and WebSocket turns): why a request
    failed is its error's code and field, never its content."""
    if status >= 400:
        fields["code"] = code
        fields["param"] = _escaped(param)
    log.info("%s %s %d", method, path, status, extra=fields)


def _escaped(param: str | None) -> str | None:
    """A field path can hold a key the client chose: one line, bounded, whatever it holds."""
    return None if param is None else repr(param[:128])[1:-1]
