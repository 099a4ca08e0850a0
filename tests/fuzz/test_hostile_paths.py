"""Absurd ids, paths, query parameters, methods and body sizes: OpenAI-shaped 4xx answers."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator

import pytest
import zstandard

from tests.fuzz.conftest import UNKNOWN_ID, Probe, bad_request, create, openai_error, raw_exchange
from tests.support.server import TetherServer

# --- ids and paths ---------------------------------------------------------------------

ABSURD_IDS = {
    "NUL": "%00",
    "10 KB": "r" * 10_240,
    "unicode": "%E2%98%83%F0%9F%A7%B5",
    "not UTF-8": "%ff%fe",
    "dot dot": "..",
    "encoded dot dot": "%2e%2e",
    "resp_ + non-hex": "resp_" + "z" * 64,
    "resp_ + upper-case hex": "resp_" + "A" * 64,
    "resp_ only": "resp_",
    "resp_ + short hex": "resp_abc",
    "resp_ + long hex": "resp_" + "a" * 65,
    "well-formed, unknown": UNKNOWN_ID,
    "SQL": "resp_'%20OR%20'1'%3D'1",
    "Redis glob": "resp_*",
    "Lua pattern": "resp_%25a%2B",
    "CRLF": "resp_%0D%0Ax-injected:%201",
}


@pytest.mark.parametrize("rid", ABSURD_IDS.values(), ids=ABSURD_IDS.keys())
@pytest.mark.parametrize(
    ("method", "suffix"), [("GET", ""), ("DELETE", ""), ("GET", "/input_items")]
)
def test_an_absurd_response_id_is_an_openai_shaped_404(
    probe: Probe, rid: str, method: str, suffix: str
) -> None:
    response = probe.request(method, f"/v1/responses/{rid}{suffix}")
    error = openai_error(response)
    assert response.status_code == 404, response.text
    assert error["code"] == "not_found"
    assert "x-injected" not in response.headers


@pytest.mark.parametrize(
    "path",
    [
        "/v1/responses/../../etc/passwd",
        "/v1/responses/%2F%2F..%2F..%2Fetc%2Fpasswd",
        "/v1/responses/a/b/c",
        "/v1/responses//input_items",
        "/v1/" + "x" * 8000,
        "/v1/responses/x/input_items/extra",
        "/%00",
    ],
)
def test_an_unknown_path_is_an_openai_shaped_404(probe: Probe, path: str) -> None:
    response = probe.get(path)
    openai_error(response)
    assert response.status_code == 404


@pytest.mark.parametrize("rid", [v for v in ABSURD_IDS.values() if len(v) <= 256], ids=repr)
def test_an_absurd_previous_response_id_is_previous_response_not_found(
    probe: Probe, rid: str
) -> None:
    body = {"model": "echo", "input": "x", "previous_response_id": rid}
    error = bad_request(probe.post("/v1/responses", json=body), param="previous_response_id")
    assert error["code"] == "previous_response_not_found"


def test_a_10_kb_previous_response_id_is_rejected_naming_it(probe: Probe) -> None:
    body = {"model": "echo", "input": "x", "previous_response_id": "resp_" + "a" * 10_240}
    bad_request(probe.post("/v1/responses", json=body), param="previous_response_id")


# --- input_items query parameters ------------------------------------------------------


@pytest.fixture(scope="module")
def three_items(probe: Probe) -> str:
    items = [{"role": "user", "content": str(i)} for i in range(3)]
    return str(create(probe, input=items)["id"])


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=-1", "limit"),
        ("limit=abc", "limit"),
        ("limit=", "limit"),
        ("limit=1e2", "limit"),
        ("limit=99999999999999999999999", "limit"),
        ("limit=%00", "limit"),
        ("order=sideways", "order"),
        ("order=", "order"),
        ("order=ASC%00", "order"),
        ("after=" + "a" * 300, "after"),
        ("limit=5&limit=abc", "limit"),
    ],
)
def test_out_of_range_query_params_are_a_400_naming_the_param(
    probe: Probe, three_items: str, query: str, param: str
) -> None:
    response = probe.get(f"/v1/responses/{three_items}/input_items?{query}")
    bad_request(response, param=param)


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        ("limit=1", ["2"]),
        ("limit=100&order=asc", ["0", "1", "2"]),
        ("order=desc&after=not-an-item", []),
    ],
)
def test_query_params_at_the_edges_are_served(
    probe: Probe, three_items: str, query: str, ids: list[str]
) -> None:
    response = probe.get(f"/v1/responses/{three_items}/input_items?{query}")
    assert response.status_code == 200, response.text
    texts = [item["content"][0]["text"] for item in response.json()["data"]]
    assert texts == ids


# --- methods ---------------------------------------------------------------------------

WRONG_METHODS = [
    ("GET", "/v1/responses"),
    ("PUT", "/v1/responses"),
    ("PATCH", "/v1/responses"),
    ("DELETE", "/v1/responses"),
    ("POST", "/v1/responses/resp_x"),
    ("PUT", "/v1/responses/resp_x"),
    ("PATCH", "/v1/responses/resp_x"),
    ("POST", "/v1/responses/resp_x/input_items"),
    ("DELETE", "/v1/responses/resp_x/input_items"),
    ("POST", "/v1/models"),
    ("OPTIONS", "/v1/responses"),
    ("TRACE", "/v1/responses"),
    ("DELETE", "/health/liveliness"),
]


@pytest.mark.parametrize(("method", "path"), WRONG_METHODS)
def test_a_wrong_method_is_an_openai_shaped_405(probe: Probe, method: str, path: str) -> None:
    response = probe.request(method, path, content=b'{"model": "echo", "input": "x"}')
    openai_error(response)
    assert response.status_code == 405


def test_a_405_names_the_allowed_methods(probe: Probe) -> None:
    response = probe.request("PUT", "/v1/responses")
    assert response.status_code == 405
    assert "POST" in response.headers.get("allow", "")


# --- body size -------------------------------------------------------------------------


def _padded(size: int) -> bytes:
    head, tail = b'{"model": "echo", "input": "', b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def test_a_body_over_the_limit_is_an_openai_shaped_413(limited_probe: Probe) -> None:
    error = openai_error(limited_probe.post("/v1/responses", content=_padded(2048)))
    assert error["code"] == "payload_too_large"


def test_a_chunked_body_over_the_limit_is_a_413(limited_probe: Probe) -> None:
    def chunks() -> Iterator[bytes]:
        body = _padded(4096)
        for start in range(0, len(body), 300):
            yield body[start : start + 300]

    response = limited_probe.post("/v1/responses", content=chunks())
    assert response.status_code == 413
    assert openai_error(response)["code"] == "payload_too_large"


def test_a_body_exactly_at_the_limit_is_served(limited_probe: Probe) -> None:
    response = limited_probe.post("/v1/responses", content=_padded(1024))
    assert response.status_code == 200, response.text


def test_a_huge_declared_length_is_refused_before_reading(limited: TetherServer) -> None:
    head = b"POST /v1/responses HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999\r\n\r\n"
    status, body = raw_exchange(limited.port, head + b"{}", timeout=5)
    assert status == 413
    assert json.loads(body)["error"]["code"] == "payload_too_large"


# --- compressed bodies: the limit is on the decoded size --------------------------------

CODERS = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "zstd": zstandard.ZstdCompressor().compress,
}


@pytest.mark.parametrize("coding", CODERS)
def test_a_small_bomb_is_a_413_after_decoding(limited_probe: Probe, coding: str) -> None:
    bomb = CODERS[coding](_padded(512 * 1024))
    assert len(bomb) < 1024  # under the limit on the wire
    response = limited_probe.post(
        "/v1/responses", content=bomb, headers={"content-encoding": coding}
    )
    assert response.status_code == 413, response.text
    assert openai_error(response)["code"] == "payload_too_large"


@pytest.mark.parametrize("coding", CODERS)
def test_a_compressed_body_decoding_exactly_to_the_limit_is_served(
    limited_probe: Probe, coding: str
) -> None:
    packed = CODERS[coding](_padded(1024))
    response = limited_probe.post(
        "/v1/responses", content=packed, headers={"content-encoding": coding}
    )
    assert response.status_code == 200, response.text
