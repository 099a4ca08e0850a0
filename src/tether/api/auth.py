"""API keys: who is calling, and which stored responses they may see."""

from __future__ import annotations

import hashlib
import hmac

from starlette.datastructures import Headers

from tether.config import Settings
from tether.core.caller import ANONYMOUS, MASTER, Caller
from tether.errors import AuthenticationFailed


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class Authenticator:
    """Keys are hashed at load; a presented key is hashed and compared in constant time."""

    def __init__(self, settings: Settings) -> None:
        self._enabled = settings.auth_enabled
        self._keys: list[tuple[bytes, Caller]] = [
            (_digest(k.key.reveal()), Caller(k.name, sees_all=False)) for k in settings.api_keys
        ]
        if settings.master_key is not None:
            self._keys.append((_digest(settings.master_key.reveal()), Caller(MASTER, True)))

    def caller(self, headers: Headers) -> Caller:
        if not self._enabled:
            return Caller(ANONYMOUS, sees_all=True)
        presented = _presented_key(headers)
        if presented is None:
            raise AuthenticationFailed("Missing API key: pass it as 'Authorization: Bearer <key>'.")
        digest = _digest(presented)
        found = None
        for known, caller in self._keys:  # no early exit: timing does not reveal which key
            if hmac.compare_digest(known, digest):
                found = caller
        if found is None:
            raise AuthenticationFailed("Incorrect API key provided.")
        return found


def _presented_key(headers: Headers) -> str | None:
    auth = headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return headers.get("api-key") or headers.get("x-api-key") or None
