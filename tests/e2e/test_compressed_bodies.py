"""Request bodies sent compressed (`Content-Encoding: gzip`, `deflate`, `zstd`) are served,
and bombs, corrupt data and unknown codings are refused in OpenAI's error shape."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import zstandard
from openai import OpenAI

from tests.support.server import TetherServer


def raw_deflate(data: bytes) -> bytes:
    """Deflate without the zlib wrapper, as some clients send `deflate`."""
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


ENCODERS: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "gzip": ("gzip", gzip.compress),
    "x-gzip": ("x-gzip", gzip.compress),
    "deflate": ("deflate", zlib.compress),
    "raw deflate": ("deflate", raw_deflate),
    "zstd": ("zstd", zstandard.ZstdCompressor().compress),
}


class CompressingTransport(httpx.BaseTransport):
    """Compresses every request body on its way out, as a client configured to do so would."""

    def __init__(self, coding: str, encode: Callable[[bytes], bytes]) -> None:
        self.coding, self.encode = coding, encode
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = self.encode(request.read())
        headers = {**request.headers, "content-encoding": self.coding}
        headers["content-length"] = str(len(body))
        packed = httpx.Request(request.method, request.url, headers=headers, content=body)
        return self.inner.handle_request(packed)

    def close(self) -> None:
        self.inner.close()


def post(tether: TetherServer, content: Any, coding: str) -> httpx.Response:
    headers = {"content-type": "application/json", "content-encoding": coding}
    return httpx.post(f"{tether.url}/v1/responses", content=content, headers=headers, timeout=30)


def body(text: str) -> bytes:
    return orjson.dumps({"model": "echo", "input": text})


def error_of(response: httpx.Response) -> dict[str, Any]:
    assert set(response.json()) == {"error"}, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


@pytest.mark.parametrize("name", ENCODERS)
def test_the_sdk_with_a_compressing_client_is_served(tether: TetherServer, name: str) -> None:
    coding, encode = ENCODERS[name]
    with httpx.Client(transport=CompressingTransport(coding, encode)) as http:
        client = OpenAI(
            base_url=f"{tether.url}/v1", api_key="sk-x", http_client=http, max_retries=0
        )
        first = client.responses.create(model="echo", input=f"packed with {name}")
        second = client.responses.create(
            model="transcript", input="and again", previous_response_id=first.id
        )
    assert first.output_text == f"packed with {name}"
    assert f"packed with {name}" in second.output_text


def test_concatenated_gzip_members_are_one_body(tether: TetherServer) -> None:
    raw = body("two members")
    response = post(tether, gzip.compress(raw[:10]) + gzip.compress(raw[10:]), "gzip")
    assert response.status_code == 200, response.text
    assert response.json()["output"][0]["content"][0]["text"] == "two members"


def test_a_compressed_body_sent_in_small_chunks_is_served(tether: TetherServer) -> None:
    packed = zstandard.ZstdCompressor().compress(body("word " * 5000))

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(packed), 7):
            yield packed[start : start + 7]

    response = post(tether, chunks(), "zstd")
    assert response.status_code == 200, response.text


def test_identity_is_no_coding_at_all(tether: TetherServer) -> None:
    assert post(tether, body("plain"), "identity").status_code == 200


@pytest.mark.parametrize("coding", ["br", "compress", "gzip, br", "snappy"])
def test_an_unsupported_coding_is_a_415_naming_it(tether: TetherServer, coding: str) -> None:
    response = post(tether, body("x"), coding)
    assert response.status_code == 415, response.text
    error = error_of(response)
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "unsupported_content_encoding"
    assert "'br'" in error["message"] or f"'{coding}'" in error["message"]
    assert "gzip" in error["message"]  # what would have been accepted


@pytest.mark.parametrize(
    ("coding", "content"),
    [
        ("gzip", b"this is not gzip at all"),
        ("gzip", gzip.compress(body("cut short"))[:-6]),
        ("gzip", gzip.compress(body("x")) + b"trailing garbage"),
        ("deflate", b"\x78\x9c not deflate"),
        ("deflate", zlib.compress(body("cut short"))[:-3]),
        ("zstd", b"\x28\xb5\x2f\xfd garbage"),
        ("zstd", zstandard.ZstdCompressor().compress(body("cut short"))[:-4]),
        ("gzip", b""),
    ],
    ids=[
        "not gzip",
        "gzip cut",
        "gzip trailing",
        "not deflate",
        "deflate cut",
        "zstd",
        "zstd cut",
        "empty",
    ],
)
def test_corrupt_compressed_data_is_a_400(
    tether: TetherServer, coding: str, content: bytes
) -> None:
    response = post(tether, content, coding)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["type"] == "invalid_request_error"
    assert coding in error["message"]


def gzip_bomb(size: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    parts = [packer.compress(b'{"model": "echo", "input": "')]
    parts += [packer.compress(zeros) for _ in range(size >> 20)]
    return b"".join([*parts, packer.flush()])


def peak_rss(pid: int) -> int:
    """The process's high-water mark of resident memory, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.mark.parametrize("coding", ["gzip", "zstd"])
def test_a_bomb_is_a_413_decoded_in_bounded_memory(tmp_path: Path, coding: str) -> None:
    limit = 1 << 20
    config = {"model_list": [{"model_name": "echo", "litellm_params": {"model": "echo/echo"}}]}
    server = TetherServer({**config, "server": {"max_body_bytes": limit}}, tmp_path).start()
    if coding == "gzip":
        bomb = gzip_bomb(256 << 20)
    else:
        bomb = zstandard.ZstdCompressor().compress(bytes(256 << 20))
    try:
        assert server.process is not None
        before = peak_rss(server.process.pid)
        assert len(bomb) < limit  # the limit is met on the wire; only decoding passes it
        response = post(server, bomb, coding)
        assert response.status_code == 413, response.text
        assert error_of(response)["code"] == "payload_too_large"
        grown = peak_rss(server.process.pid) - before
        assert grown < 64 << 20, f"decoding a bomb grew the server by {grown >> 20} MiB"
        assert post(server, gzip.compress(body("still fine")), "gzip").status_code == 200
    finally:
        server.stop()
