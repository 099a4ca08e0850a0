"""Who is calling: the API key a request presents, as the caller it stands for."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from tether.core.caller import Caller
from tether.resources import Resources


def caller_of(connection: HTTPConnection) -> Caller:
    resources: Resources = connection.state.resources
    return resources.auth.caller(presented_key(connection))


def presented_key(connection: HTTPConnection) -> str | None:
    """`Authorization: Bearer <key>`, or the `api-key` / `x-api-key` header."""
    headers = connection.headers
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return headers.get("api-key") or headers.get("x-api-key") or None
