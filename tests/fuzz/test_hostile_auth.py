"""Keys and tenants: missing or wrong keys are 401s, another tenant's ids answer exactly
like unknown ones, the master key sees everything, and no answer ever shows a key."""

from __future__ import annotations

import json
import secrets
from typing import Any

import httpx
import pytest

from tests.fuzz.conftest import (
    ALICE,
    ALICE_KEY,
    BOB,
    BOB_KEY,
    MASTER,
    MASTER_KEY,
    SECRETS,
    UNKNOWN_ID,
    Probe,
    bad_request,
    create,
    openai_error,
)

# --- authentication and isolation ------------------------------------------------------

AUTH_ROUTES = [
    ("POST", "/v1/responses"),
    ("GET", f"/v1/responses/{UNKNOWN_ID}"),
    ("DELETE", f"/v1/responses/{UNKNOWN_ID}"),
    ("GET", f"/v1/responses/{UNKNOWN_ID}/input_items"),
    ("GET", "/v1/models"),
    ("GET", "/v1/session-cache/stats"),
    ("POST", "/responses"),
]
BAD_CREDENTIALS: dict[str, dict[str, str | bytes]] = {
    "none": {},
    "empty bearer": {"authorization": "Bearer"},
    "wrong key": {"authorization": "Bearer sk-guess"},
    "master key minus one char": {"authorization": f"Bearer {MASTER_KEY[:-1]}"},
    "alice key plus one char": {"authorization": f"Bearer {ALICE_KEY}x"},
    "upper-cased key": {"authorization": f"Bearer {BOB_KEY.upper()}"},
    "basic scheme": {"authorization": f"Basic {ALICE_KEY}"},
    "key as scheme": {"authorization": ALICE_KEY},
    "wrong api-key header": {"api-key": "sk-nope"},
    "latin-1 bytes": {"authorization": b"Bearer sk-\xe9\xff-not-utf-8"},
    "10 KB key": {"authorization": "Bearer " + "k" * 10_240},
}


@pytest.mark.parametrize("headers", BAD_CREDENTIALS.values(), ids=BAD_CREDENTIALS.keys())
@pytest.mark.parametrize(("method", "path"), AUTH_ROUTES)
def test_a_missing_or_invalid_key_is_an_openai_shaped_401(
    guarded_probe: Probe, method: str, path: str, headers: dict[str, str | bytes]
) -> None:
    body = b'{"model": "echo", "input": "x"}' if method == "POST" else None
    response = guarded_probe.request(method, path, headers=headers, content=body)
    error = openai_error(response)
    assert response.status_code == 401
    assert (error["type"], error["code"]) == ("authentication_error", "invalid_api_key")
    values = [v.decode("latin-1") if isinstance(v, bytes) else v for v in headers.values()]
    presented = [value.split(" ")[-1] for value in values]
    for key in (p for p in presented if len(p) >= 8):  # not the scheme word "Bearer"
        assert key not in response.text, "the presented key was echoed"


def test_a_tenant_key_cannot_read_the_cache_statistics(guarded_probe: Probe) -> None:
    response = guarded_probe.get("/v1/session-cache/stats", headers=ALICE)
    assert response.status_code == 403
    assert openai_error(response)["type"] == "permission_error"
    assert guarded_probe.get("/v1/session-cache/stats", headers=MASTER).status_code == 200


@pytest.mark.parametrize(
    "path", ["/openapi.json", "/metrics", "/health/readiness", "/health/liveliness"]
)
def test_open_endpoints_never_show_a_key(guarded_probe: Probe, path: str) -> None:
    response = guarded_probe.get(path)  # the probe fails on any configured key in a body
    assert response.status_code == 200
    assert not any(secret in response.text for secret in SECRETS)


def _same_answer(foreign: httpx.Response, unknown: httpx.Response, fid: str, uid: str) -> None:
    assert foreign.status_code == unknown.status_code
    assert foreign.json() == json.loads(unknown.text.replace(uid, fid))


def _sibling(response_id: str) -> str:
    """An id of the same session that was never issued: only the random half differs."""
    return response_id[:37] + secrets.token_hex(16)


@pytest.fixture(scope="module")
def alice_turn(guarded_probe: Probe) -> dict[str, Any]:
    return create(guarded_probe, ALICE, input="alice's secret plan")


@pytest.mark.parametrize(
    ("method", "suffix"), [("GET", ""), ("GET", "/input_items"), ("DELETE", "")]
)
def test_another_tenants_response_answers_like_an_unknown_one(
    guarded_probe: Probe, alice_turn: dict[str, Any], method: str, suffix: str
) -> None:
    fid, uid = alice_turn["id"], _sibling(alice_turn["id"])
    foreign = guarded_probe.request(method, f"/v1/responses/{fid}{suffix}", headers=BOB)
    unknown = guarded_probe.request(method, f"/v1/responses/{uid}{suffix}", headers=BOB)
    assert foreign.status_code == 404
    assert openai_error(foreign)["code"] == "not_found"
    _same_answer(foreign, unknown, fid, uid)
    assert "secret plan" not in foreign.text
    still = guarded_probe.get(f"/v1/responses/{fid}", headers=ALICE)
    assert still.status_code == 200, "another tenant's DELETE removed the response"


def test_continuing_another_tenants_response_answers_like_an_unknown_one(
    guarded_probe: Probe, alice_turn: dict[str, Any]
) -> None:
    fid, uid = alice_turn["id"], _sibling(alice_turn["id"])

    def follow(previous: str) -> httpx.Response:
        body = {"model": "transcript", "input": "tell me", "previous_response_id": previous}
        return guarded_probe.post("/v1/responses", json=body, headers=BOB)

    foreign, unknown = follow(fid), follow(uid)
    error = bad_request(foreign, param="previous_response_id")
    assert error["code"] == "previous_response_not_found"
    _same_answer(foreign, unknown, fid, uid)


def test_the_master_key_reads_and_continues_every_tenant(
    guarded_probe: Probe, alice_turn: dict[str, Any]
) -> None:
    rid = alice_turn["id"]
    assert guarded_probe.get(f"/v1/responses/{rid}", headers=MASTER).json() == alice_turn
    items = guarded_probe.get(f"/v1/responses/{rid}/input_items", headers=MASTER).json()
    assert items["data"][0]["content"][0]["text"] == "alice's secret plan"
    follow = create(
        guarded_probe, MASTER, model="transcript", input="and?", previous_response_id=rid
    )
    assert "alice's secret plan" in follow["output"][0]["content"][0]["text"]


def test_the_master_key_deletes_for_every_tenant(guarded_probe: Probe) -> None:
    rid = create(guarded_probe, ALICE, input="to be removed")["id"]
    assert guarded_probe.delete(f"/v1/responses/{rid}", headers=MASTER).status_code == 200
    gone = guarded_probe.get(f"/v1/responses/{rid}", headers=ALICE)
    assert gone.status_code == 404
    openai_error(gone)


def test_a_tenant_cannot_read_what_the_master_key_created(guarded_probe: Probe) -> None:
    mine = create(guarded_probe, MASTER, input="master only")
    response = guarded_probe.get(f"/v1/responses/{mine['id']}", headers=ALICE)
    assert response.status_code == 404
    openai_error(response)
