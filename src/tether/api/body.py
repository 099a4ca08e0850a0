"""Reading request bodies: content decoding, a size limit, JSON parsing, validation."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import orjson
import zstandard
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from tether.api.errors import invalid_body
from tether.deadline import deadline
from tether.errors import InvalidRequest, PayloadTooLarge, RequestTimeout, UnsupportedEncoding

Model = TypeVar("Model", bound=BaseModel)


async def read_limited(request: Request, limit: int, within: float) -> bytes:
    """The body, decoded, refused past `limit` bytes (on the wire or once decoded) or when
    it takes longer than `within` seconds to arrive."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit, None)
    decoder = decoder_for(request.headers.get("content-encoding"))
    chunks: list[bytes] = []
    received = size = 0
    try:
        async with deadline(within):
            async for chunk in request.stream():
                received += len(chunk)
                chunks.append(decoder.decode(chunk, limit - size))
                size += len(chunks[-1])
                if received > limit or size > limit:  # on the wire, or once decoded
                    raise _too_large(limit, decoder)
    except TimeoutError:
        raise RequestTimeout(f"The request body did not arrive within {within:g} s.") from None
    decoder.finish()
    return b"".join(chunks)


def _too_large(limit: int, decoder: Decoder | None) -> PayloadTooLarge:
    coding = f" once decoded ({decoder.name})" if decoder and decoder.name != "identity" else ""
    return PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes{coding}.")


# --- content codings (RFC 9110 section 8.4) ----------------------------------------------


class Decoder(Protocol):
    """One content coding, decoded chunk by chunk with the output bounded."""

    name: str

    def decode(self, data: bytes, room: int) -> bytes:
        """All of `data` decoded, or (when that is more) at least `room` + 1 bytes of it."""
        ...

    def finish(self) -> None:
        """Refuses a body that ended before its coding did."""
        ...


def decoder_for(header: str | None) -> Decoder:
    named = (c.strip() for c in (header or "").lower().split(","))
    codings = [ALIASES.get(c, c) for c in named if c and c != "identity"]
    unknown = [c for c in codings if c not in DECODERS]
    if unknown or len(codings) > 1:
        what = f"'{unknown[0]}' is" if unknown else f"'{header}' (more than one coding) is"
        raise UnsupportedEncoding(
            f"Content-Encoding {what} not supported; supported: {', '.join(DECODERS)}."
        )
    return DECODERS[codings[0]]() if codings else _Identity()


def _corrupt(name: str, exc: Exception | None = None) -> InvalidRequest:
    detail = f" ({exc})" if exc else " (it ends before the coding does)"
    return InvalidRequest(f"The request body is not valid {name} data{detail}.")


class _Identity:
    name = "identity"

    def decode(self, data: bytes, room: int) -> bytes:
        return data

    def finish(self) -> None:
        return None


class _Zlib:
    """gzip or deflate; zlib's `max_length` bounds each step's output."""

    def __init__(self, name: str, wbits: int) -> None:
        self.name = name
        self._wbits = wbits
        self._inflate = zlib.decompressobj(wbits)
        self._fed = False

    def decode(self, data: bytes, room: int) -> bytes:
        out: list[bytes] = []
        size = 0
        try:
            while data and size <= room:
                self._begin(data[0])
                out.append(self._inflate.decompress(data, room + 1 - size))  # never 0: unbounded
                size += len(out[-1])
                ended = self._inflate.eof
                data = self._inflate.unused_data if ended else self._inflate.unconsumed_tail
        except zlib.error as exc:
            raise _corrupt(self.name, exc) from exc
        return b"".join(out)

    def _begin(self, first: int) -> None:
        if not self._fed:
            self._fed = True
            # `deflate` is zlib-wrapped (RFC 9110), but some clients send raw deflate: a zlib
            # header's first byte names method 8, which a raw block's first byte never does.
            if self.name == "deflate" and first & 0x0F != 8:
                self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
        elif self._inflate.eof:
            if self.name != "gzip":
                raise _corrupt(self.name, ValueError("data after the end of the stream"))
            self._inflate = zlib.decompressobj(self._wbits)  # members may follow (RFC 1952)

    def finish(self) -> None:
        if not self._inflate.eof:
            raise _corrupt(self.name)


class _Zstd:
    """zstd; its decoder has no `max_length`, so input goes in slices small enough that
    one slice's output stays near a few MiB even for a crafted frame."""

    name = "zstd"
    SLICE = 64  # bytes: at most ~21 blocks of 128 KiB each
    WINDOW = 8 << 20  # RFC 9659: HTTP's zstd decoders need no larger window than 8 MiB

    def __init__(self) -> None:
        self._context = zstandard.ZstdDecompressor(max_window_size=self.WINDOW)
        self._frame = self._context.decompressobj()
        self._started = False

    def decode(self, data: bytes, room: int) -> bytes:
        out: list[bytes] = []
        size = start = 0
        try:
            while start < len(data) and size <= room:
                if self._frame.eof:  # frames may follow one another (RFC 8878)
                    self._frame = self._context.decompressobj()
                piece = data[start : start + self.SLICE]
                out.append(self._frame.decompress(piece))
                size += len(out[-1])
                self._started = True
                # A frame that ended inside the slice leaves the next frame's first bytes.
                start += len(piece) - (len(self._frame.unused_data) if self._frame.eof else 0)
        except zstandard.ZstdError as exc:
            raise _corrupt(self.name, exc) from exc
        return b"".join(out)

    def finish(self) -> None:
        if not (self._started and self._frame.eof):
            raise _corrupt(self.name)


DECODERS: dict[str, Callable[[], Decoder]] = {
    "gzip": lambda: _Zlib("gzip", 16 + zlib.MAX_WBITS),
    "deflate": lambda: _Zlib("deflate", zlib.MAX_WBITS),
    "zstd": _Zstd,
}
ALIASES = {"x-gzip": "gzip"}  # RFC 9110 8.4.1.3: the same coding


# orjson reads 1024 levels but writes only 254; a body must survive being stored and echoed.
MAX_DEPTH = 230  # leaves room for the levels a record or an event wraps around a body


def parse_json(raw: bytes) -> Any:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(
            "We could not parse the JSON body of your request: it is not valid UTF-8 JSON."
        ) from exc
    if _depth_exceeds(data, MAX_DEPTH):
        raise InvalidRequest(f"The JSON body is nested deeper than {MAX_DEPTH} levels.")
    return data


def _depth_exceeds(data: Any, limit: int) -> bool:
    """Iterative, so a hostile body cannot exhaust the stack; visits each node once."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((value, depth + 1) for value in node.values())
        elif isinstance(node, list):
            stack.extend((value, depth + 1) for value in node)
    return False


def validate(schema: type[Model], data: Any) -> Model:
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise invalid_body(exc) from exc
