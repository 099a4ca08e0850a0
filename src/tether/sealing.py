"""Sealed blobs: what tether hands clients to keep (`encrypted_content`), AES-256-GCM.

A blob is base64url(version | nonce | ciphertext + tag). The first key seals; every key
listed opens, so a key is rotated by putting the new one first and dropping the old one
once its blobs no longer matter. The purpose is authenticated too, so a blob made for
one use is refused by another.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tether.errors import ConfigError

log = logging.getLogger("tether.sealing")
KEY_BYTES = 32
_VERSION = b"\x01"
_NONCE_BYTES = 12
_TAG_BYTES = 16
KEY_FILE_SUFFIX = ".key"  # the embedded default's key, beside its SQLite file


class Sealer:
    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("a Sealer needs at least one key")
        self._ciphers = [AESGCM(key) for key in keys]

    def seal(self, plaintext: bytes, purpose: bytes) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[0].encrypt(nonce, plaintext, _VERSION + purpose)
        return base64.urlsafe_b64encode(_VERSION + nonce + sealed).decode("ascii")

    def open(self, blob: str, purpose: bytes) -> bytes | None:
        """The plaintext, or None when the blob is forged, corrupt or under no key held."""
        try:
            raw = base64.urlsafe_b64decode(blob.encode("ascii"))
        except (binascii.Error, UnicodeEncodeError, ValueError):
            return None
        if len(raw) < 1 + _NONCE_BYTES + _TAG_BYTES or raw[:1] != _VERSION:
            return None
        nonce, sealed = raw[1 : 1 + _NONCE_BYTES], raw[1 + _NONCE_BYTES :]
        for cipher in self._ciphers:
            try:
                return cipher.decrypt(nonce, sealed, _VERSION + purpose)
            except InvalidTag:
                continue
        return None


def new_key_text() -> str:
    """A fresh key as configured: 32 random bytes, base64 (`openssl rand -base64 32`)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def decode_key(text: str) -> bytes:
    """A configured key: 32 bytes in base64 (or base64url); ValueError otherwise."""
    try:
        key = base64.b64decode(
            text.strip().encode("ascii"), altchars=_altchars(text), validate=True
        )
    except (binascii.Error, UnicodeEncodeError, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise ValueError("must be 32 random bytes in base64 (openssl rand -base64 32)")
    return key


def _altchars(text: str) -> bytes | None:
    return b"-_" if ("-" in text or "_" in text) else None  # base64url accepted too


def load_sealer(keys: Sequence[str], database_url: str) -> Sealer | None:
    """The sealer of the configured keys (checked by config); with none, the embedded
    default's key file beside its SQLite database (made on first start), or an in-memory
    key for an in-memory database. None for a shared database with no key configured:
    every instance must hold the same keys."""
    if keys:
        return Sealer([decode_key(text) for text in keys])
    path = _sqlite_path(database_url)
    if path is None:
        return None
    if path == ":memory:":
        return Sealer([os.urandom(KEY_BYTES)])
    key_file = Path(path + KEY_FILE_SUFFIX)
    try:
        return Sealer([decode_key(_kept_key(key_file))])
    except ValueError as exc:
        raise ConfigError(str(key_file), str(exc)) from None


def _sqlite_path(url: str) -> str | None:
    for prefix in ("sqlite+aiosqlite://", "sqlite://"):
        if url.startswith(prefix):
            path = url.removeprefix(prefix).removeprefix("/").partition("?")[0]
            return path or ":memory:"
    return None


def _kept_key(key_file: Path) -> str:
    """The key in `key_file`, written first if it does not exist. Workers starting together
    race to create it; the first link wins and the others read the winner's key."""
    try:
        return key_file.read_text(encoding="ascii")
    except FileNotFoundError:
        pass
    draft = key_file.with_name(f"{key_file.name}.{os.getpid()}.tmp")
    try:
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(new_key_text() + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(draft, key_file)
            log.info("made the compaction key %s (keep it with the database)", key_file)
        except FileExistsError:
            pass
    except OSError as exc:
        raise ConfigError(str(key_file), f"cannot write the key: {exc.strerror}") from None
    finally:
        draft.unlink(missing_ok=True)
    return key_file.read_text(encoding="ascii")
