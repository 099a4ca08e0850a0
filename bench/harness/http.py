"""A minimal HTTP/1.1 keep-alive client on asyncio streams, cheap enough to load a server.

httpx costs ~3 ms of CPU per request at concurrency; this client does only what the
bench needs: POST a prepared body, read a Content-Length or chunked reply, and time
each chunk of a streamed reply as it arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field


class HttpError(Exception):
    """The server broke the HTTP exchange (closed early, unreadable framing)."""


@dataclass(slots=True)
class Reply:
    status: int
    headers: dict[bytes, bytes]
    body: bytes
    sent_at: float  # perf_counter when the request was written
    done_at: float  # perf_counter when the last byte was read
    chunks: list[tuple[float, bytes]] = field(default_factory=list)  # streamed: (arrival, data)

    @property
    def seconds(self) -> float:
        return self.done_at - self.sent_at


class Connection:
    """One keep-alive connection; requests on it are sequential."""

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(
            self._host, self._port, limit=1 << 20
        )

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):  # the server may have closed first
                await self._writer.wait_closed()
            self._writer = self._reader = None

    async def post(self, path: str, body: bytes, *, streamed: bool = False) -> Reply:
        if self._reader is None or self._writer is None:
            await self.open()
        assert self._reader is not None
        assert self._writer is not None
        head = (
            f"POST {path} HTTP/1.1\r\nhost: {self._host}:{self._port}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
        ).encode()
        sent_at = time.perf_counter()
        self._writer.write(head + body)
        try:
            return await _read_reply(self._reader, sent_at, streamed)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            await self.close()
            raise HttpError(f"bad reply from {self._host}:{self._port}: {exc!r}") from exc


async def _read_reply(reader: asyncio.StreamReader, sent_at: float, streamed: bool) -> Reply:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        chunks = await _read_chunked(reader)
        body = b"".join(data for _, data in chunks)
        return Reply(
            status, headers, body, sent_at, time.perf_counter(), chunks if streamed else []
        )
    body = await reader.readexactly(int(headers.get(b"content-length", b"0")))
    return Reply(status, headers, body, sent_at, time.perf_counter())


async def _read_chunked(reader: asyncio.StreamReader) -> list[tuple[float, bytes]]:
    chunks: list[tuple[float, bytes]] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # no trailers are sent by uvicorn
            return chunks
        data = await reader.readexactly(size + 2)
        chunks.append((time.perf_counter(), data[:-2]))
