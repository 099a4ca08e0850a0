"""API keys: who is calling, and which stored responses they may see."""

from __future__ import annotations

import hashlib
import hmac

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
            (_digest(k.key.get_secret_value()), Caller(k.name, sees_all=False))
            for k in settings.api_keys
        ]
        if settings.master_key is not None:
            self._keys.append(
                (_digest(settings.master_key.get_secret_value()), Caller(MASTER, True))
            )

    def caller(self, presented: str | None) -> Caller:
        """The caller a presented key (None: none was sent) stands for."""
        if not self._enabled:
            return Caller(ANONYMOUS, sees_all=True)
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
