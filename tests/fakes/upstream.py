"""Fake upstream LLM servers: OpenAI Chat Completions and Anthropic Messages.

A real HTTP server (Starlette on uvicorn) on loopback that speaks both providers'
wire protocols closely enough for the official SDKs, with a deterministic
scripting model, request recording and fault injection.

Scripting model (same for both protocols):

* default reply: ``"reply to: " + <text of the last user message>``;
* the last turn is tool results: ``"tool said: " + <result texts joined by " ">``;
* tools offered and the last user text starts with ``"call "``: one tool call per
  line of the form ``call NAME {json object}`` (arguments default to ``{}``); if
  any arguments are not a JSON object the message is treated as plain text;
* ``"[long]"`` in the last user text: the default reply repeated to exceed
  ``max_tokens`` (or 200 words when no limit is given);
* text replies longer than ``max_tokens`` whitespace words are truncated to that
  many words and finish with ``length`` / ``max_tokens``;
* a model named ``<anything>@<N>ms`` streams like a real model: N milliseconds
  between streamed events (benchmarks measure time to first token and the gaps
  between tokens against it);
* usage: prompt tokens are the whitespace words of all message text (system,
  text parts, tool results); completion tokens are the words of the reply plus
  ``1 + words(arguments)`` per tool call.

Usage::

    with run_fake_upstream() as fake:
        client = OpenAI(base_url=fake.openai_base, api_key="x")

Standalone (benchmarks): ``python -m tests.fakes.upstream --port 9001``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

__all__ = [
    "FakeUpstream",
    "RecordedRequest",
    "Reply",
    "ToolCall",
    "run_fake_upstream",
]

Protocol = Literal["openai", "anthropic"]
FaultKind = Literal["status", "delay", "cut", "malformed", "slow"]

_LONG_DEFAULT_WORDS = 200
_ARG_CHUNK = 8
_WORD_RE = re.compile(r"\s*\S+\s*")
_CALL_SPLIT_RE = re.compile(r"\n(?=call )")


# --------------------------------------------------------------------------- scripting


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON object text, exactly as scripted


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    tool_calls: tuple[ToolCall, ...]
    truncated: bool
    prompt_tokens: int
    completion_tokens: int


def _words(text: str) -> list[str]:
    """Split into one-word chunks that keep their whitespace (concatenation == text)."""
    return _WORD_RE.findall(text)


def _count(text: str) -> int:
    return len(text.split())


def _parse_calls(text: str, id_prefix: str) -> tuple[ToolCall, ...] | None:
    calls: list[ToolCall] = []
    for segment in _CALL_SPLIT_RE.split(text):
        _, _, rest = segment.partition(" ")
        name, _, args = rest.strip().partition(" ")
        args = args.strip() or "{}"
        try:
            parsed = orjson.loads(args)
        except orjson.JSONDecodeError:
            return None
        if not name or not isinstance(parsed, dict):
            return None
        calls.append(ToolCall(id_prefix + secrets.token_hex(12), name, args))
    return tuple(calls)


def script_reply(
    *,
    user_text: str,
    tool_results: Sequence[str] | None,
    tools_offered: bool,
    max_tokens: int | None,
    prompt_tokens: int,
    id_prefix: str,
) -> Reply:
    """Decide the fake model's reply; protocol independent."""
    calls: tuple[ToolCall, ...] = ()
    if tool_results is not None:
        text = "tool said: " + " ".join(tool_results)
    else:
        text = "reply to: " + user_text
        if tools_offered and user_text.startswith("call "):
            calls = _parse_calls(user_text, id_prefix) or ()
        if calls:
            text = ""
        elif "[long]" in user_text:
            target = (max_tokens + 1) if max_tokens is not None else _LONG_DEFAULT_WORDS
            text = " ".join([text] * -(-target // max(_count(text), 1)))
    chunks = _words(text)
    truncated = max_tokens is not None and max_tokens < len(chunks)
    if truncated:
        chunks = chunks[: max_tokens or 0]
        text = "".join(chunks).rstrip()
    completion = len(chunks) + sum(1 + _count(c.arguments) for c in calls)
    return Reply(text, calls, truncated, prompt_tokens, completion)


# --------------------------------------------------------------------------- requests


class RecordedRequest(NamedTuple):
    path: str
    body: Any  # parsed JSON, or None when the body was not JSON
    headers: dict[str, str]  # lower-cased names


class _ClientError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _chat_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            p["text"]
            for p in content
            if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
        )
    return ""


def _anthropic_block_texts(content: Any) -> Iterator[tuple[bool, str]]:
    """Yield (is_tool_result, text) for each text-bearing block of a message."""
    if isinstance(content, str):
        yield False, content
        return
    if not isinstance(content, list):
        return
    for block in content:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            yield False, block["text"]
        elif block.get("type") == "tool_result":
            yield True, _chat_text(block.get("content"))


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _chat_reply(body: Any) -> Reply:
    if not isinstance(body, dict):
        raise _ClientError(400, "We could not parse the JSON body of your request.")
    messages = body.get("messages")
    if not isinstance(body.get("model"), str):
        raise _ClientError(400, "you must provide a model parameter")
    if not isinstance(messages, list) or not messages:
        raise _ClientError(400, "[] is too short - 'messages'")
    if not all(isinstance(m, dict) for m in messages):
        raise _ClientError(400, "Invalid type for 'messages': expected an array of objects.")
    user_text = next(
        (_chat_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), ""
    )
    tool_results: list[str] | None = None
    if messages[-1].get("role") == "tool":
        tool_results = []
        for m in reversed(messages):
            if m.get("role") != "tool":
                break
            tool_results.insert(0, _chat_text(m.get("content")))
    max_tokens = _int_or_none(body.get("max_completion_tokens"))
    if max_tokens is None:
        max_tokens = _int_or_none(body.get("max_tokens"))
    return script_reply(
        user_text=user_text,
        tool_results=tool_results,
        tools_offered=bool(body.get("tools")),
        max_tokens=max_tokens,
        prompt_tokens=sum(_count(_chat_text(m.get("content"))) for m in messages),
        id_prefix="call_",
    )


def _anthropic_reply(body: Any, headers: Mapping[str, str]) -> Reply:
    if "anthropic-version" not in headers:
        raise _ClientError(400, "anthropic-version: header is required")
    if not isinstance(body, dict):
        raise _ClientError(400, "There was an issue with the JSON body of your request.")
    if not isinstance(body.get("model"), str):
        raise _ClientError(400, "model: Field required")
    max_tokens = _int_or_none(body.get("max_tokens"))
    if max_tokens is None:
        raise _ClientError(400, "max_tokens: Field required")
    messages = body.get("messages")
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise _ClientError(400, "messages: Field required")
    for i, m in enumerate(messages):
        if m.get("role") not in ("user", "assistant"):
            raise _ClientError(
                400,
                f'messages.{i}.role: Unexpected role "{m.get("role")}". The Messages API '
                'accepts a top-level `system` parameter, not "system" as an input message role.',
            )
    last_user = next((m for m in reversed(messages) if m["role"] == "user"), None)
    blocks = list(_anthropic_block_texts(last_user.get("content") if last_user else ""))
    results = [text for is_result, text in blocks if is_result]
    user_text = " ".join(text for is_result, text in blocks if not is_result)
    prompt = sum(_count(t) for m in messages for _, t in _anthropic_block_texts(m.get("content")))
    system = body.get("system")
    prompt += _count(_chat_text(system))
    return script_reply(
        user_text=user_text,
        tool_results=results or None,
        tools_offered=bool(body.get("tools")),
        max_tokens=max_tokens,
        prompt_tokens=prompt,
        id_prefix="toolu_",
    )


# --------------------------------------------------------------------------- rendering


def _sse(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def _event(obj: dict[str, Any]) -> bytes:
    kind: str = obj["type"]
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(obj) + b"\n\n"


def _arg_chunks(arguments: str) -> list[str]:
    return [arguments[i : i + _ARG_CHUNK] for i in range(0, len(arguments), _ARG_CHUNK)]


def _chat_finish(reply: Reply) -> str:
    return "tool_calls" if reply.tool_calls else "length" if reply.truncated else "stop"


def _chat_usage(reply: Reply) -> dict[str, int]:
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
    }


def _chat_json(reply: Reply, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": reply.text if reply.text or not reply.tool_calls else None,
        "refusal": None,
        "annotations": [],
    }
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in reply.tool_calls
        ]
    return {
        "id": "chatcmpl-" + secrets.token_hex(12),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": _chat_finish(reply)}
        ],
        "usage": _chat_usage(reply),
        "system_fingerprint": None,
    }


def _chat_events(reply: Reply, model: str, include_usage: bool) -> list[bytes]:
    base: dict[str, Any] = {
        "id": "chatcmpl-" + secrets.token_hex(12),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": None,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        obj = {
            **base,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if include_usage:
            obj["usage"] = None
        return _sse(obj)

    has_text = bool(reply.text) or not reply.tool_calls
    events = [chunk({"role": "assistant", "content": "" if has_text else None, "refusal": None})]
    events += [chunk({"content": word}) for word in _words(reply.text)]
    for i, call in enumerate(reply.tool_calls):
        head = {
            "index": i,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        events.append(chunk({"tool_calls": [head]}))
        events += [
            chunk({"tool_calls": [{"index": i, "function": {"arguments": part}}]})
            for part in _arg_chunks(call.arguments)
        ]
    events.append(chunk({}, _chat_finish(reply)))
    if include_usage:
        events.append(_sse({**base, "choices": [], "usage": _chat_usage(reply)}))
    events.append(b"data: [DONE]\n\n")
    return events


def _anthropic_stop(reply: Reply) -> str:
    return "tool_use" if reply.tool_calls else "max_tokens" if reply.truncated else "end_turn"


def _anthropic_json(reply: Reply, model: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if reply.text or not reply.tool_calls:
        content.append({"type": "text", "text": reply.text})
    content += [
        {"type": "tool_use", "id": c.id, "name": c.name, "input": orjson.loads(c.arguments)}
        for c in reply.tool_calls
    ]
    return {
        "id": "msg_" + secrets.token_hex(12),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": _anthropic_stop(reply),
        "stop_sequence": None,
        "usage": {"input_tokens": reply.prompt_tokens, "output_tokens": reply.completion_tokens},
    }


def _anthropic_events(reply: Reply, model: str) -> list[bytes]:
    message = {
        **_anthropic_json(reply, model),
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": reply.prompt_tokens, "output_tokens": 1},
    }
    events = [_event({"type": "message_start", "message": message})]
    index = 0

    def block(start: dict[str, Any], deltas: list[dict[str, Any]]) -> None:
        nonlocal index
        events.append(
            _event({"type": "content_block_start", "index": index, "content_block": start})
        )
        if index == 0:
            events.append(_event({"type": "ping"}))
        events.extend(
            _event({"type": "content_block_delta", "index": index, "delta": d}) for d in deltas
        )
        events.append(_event({"type": "content_block_stop", "index": index}))
        index += 1

    if reply.text or not reply.tool_calls:
        block(
            {"type": "text", "text": ""},
            [{"type": "text_delta", "text": w} for w in _words(reply.text)],
        )
    for c in reply.tool_calls:
        block(
            {"type": "tool_use", "id": c.id, "name": c.name, "input": {}},
            [{"type": "input_json_delta", "partial_json": p} for p in _arg_chunks(c.arguments)],
        )
    events.append(
        _event(
            {
                "type": "message_delta",
                "delta": {"stop_reason": _anthropic_stop(reply), "stop_sequence": None},
                "usage": {"output_tokens": reply.completion_tokens},
            }
        )
    )
    events.append(_event({"type": "message_stop"}))
    return events


_OPENAI_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Bad request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Forbidden."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests."),
}
_ANTHROPIC_ERRORS: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def error_body(protocol: Protocol, status: int, message: str | None = None) -> dict[str, Any]:
    """The provider's error JSON for ``status`` (used for injected and real errors)."""
    if protocol == "anthropic":
        fallback = "api_error" if status >= 500 else "invalid_request_error"
        kind = _ANTHROPIC_ERRORS.get(status, fallback)
        return {"type": "error", "error": {"type": kind, "message": message or kind}}
    default = ("server_error", None, "The server had an error while processing your request.")
    kind, code, text = _OPENAI_ERRORS.get(status, default)
    return {"error": {"message": message or text, "type": kind, "param": None, "code": code}}


class _StreamCutError(Exception):
    """Raised mid-stream so uvicorn drops the connection (incomplete chunked body)."""


class _QuietStreamCuts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], _StreamCutError))


_QUIET = _QuietStreamCuts()
logging.getLogger("uvicorn.error").addFilter(_QUIET)


# --------------------------------------------------------------------------- server


@dataclass(slots=True)
class _Fault:
    remaining: int | None
    status: int = 0
    body: Any = None
    headers: Mapping[str, str] | None = None
    seconds: float = 0.0
    chunks: int = 0
    abort: bool = True


class FakeUpstream:
    """State and ASGI app of the fake; see :func:`run_fake_upstream` to serve it."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        record: bool = True,
    ) -> None:
        self.api_key = api_key
        self.host = host
        self.port = port
        self.record = record
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._faults: dict[FaultKind, deque[_Fault]] = {
            k: deque() for k in ("status", "delay", "cut", "malformed", "slow")
        }
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/messages", self._messages, methods=["POST"]),
                Route("/messages", self._messages, methods=["POST"]),
            ]
        )

    # -- addresses
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base(self) -> str:
        return self.base_url + "/v1"

    @property
    def anthropic_base(self) -> str:
        return self.base_url

    # -- recording
    @property
    def last_request(self) -> RecordedRequest:
        return self.requests[-1]

    def clear(self) -> None:
        """Forget recorded requests and pending faults."""
        with self._lock:
            self.requests.clear()
            for queue in self._faults.values():
                queue.clear()

    # -- fault injection; ``times=None`` means every request until clear()
    def fail_with_status(
        self,
        status: int,
        body: Any = None,
        times: int | None = 1,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer with ``status``; ``body`` defaults to the provider's error shape.

        A dict/list body is sent as JSON, a str/bytes body verbatim as text/plain.
        """
        self._add("status", _Fault(times, status=status, body=body, headers=headers))

    def delay(self, seconds: float, times: int | None = 1) -> None:
        """Sleep before answering (before any headers are sent)."""
        self._add("delay", _Fault(times, seconds=seconds))

    def cut_stream_after(self, n_chunks: int, times: int | None = 1, *, abort: bool = True) -> None:
        """Stop a streaming reply after ``n_chunks`` SSE events.

        ``abort=True`` drops the connection (the client sees an incomplete chunked
        body); ``abort=False`` ends the HTTP response cleanly, just without the final
        events. Only streaming requests consume this fault.
        """
        self._add("cut", _Fault(times, chunks=n_chunks, abort=abort))

    def malformed_stream(self, after_chunks: int = 1, times: int | None = 1) -> None:
        """Insert a non-JSON ``data:`` line after ``after_chunks`` good events (streams only)."""
        self._add("malformed", _Fault(times, chunks=after_chunks))

    def slow_stream(self, seconds_per_chunk: float, times: int | None = 1) -> None:
        """Sleep before each SSE event of a streaming reply (streams only)."""
        self._add("slow", _Fault(times, seconds=seconds_per_chunk))

    def _add(self, kind: FaultKind, fault: _Fault) -> None:
        if fault.remaining is not None and fault.remaining < 1:
            raise ValueError("times must be >= 1 or None")
        with self._lock:
            self._faults[kind].append(fault)

    def _take(self, kind: FaultKind) -> _Fault | None:
        with self._lock:
            queue = self._faults[kind]
            if not queue:
                return None
            fault = queue[0]
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining == 0:
                    queue.popleft()
            return fault

    # -- endpoints
    async def _chat(self, request: Request) -> Response:
        return await self._handle(request, "openai")

    async def _messages(self, request: Request) -> Response:
        return await self._handle(request, "anthropic")

    async def _handle(self, request: Request, protocol: Protocol) -> Response:
        raw = await request.body()
        try:
            body: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        headers = dict(request.headers)
        if self.record:
            self.requests.append(RecordedRequest(request.url.path, body, headers))
        stream = isinstance(body, dict) and body.get("stream") is True
        request_id = "req_" + secrets.token_hex(12)
        id_header = {"x-request-id" if protocol == "openai" else "request-id": request_id}

        if delay := self._take("delay"):
            await asyncio.sleep(delay.seconds)
        if fail := self._take("status"):
            return _error_response(protocol, fail, id_header)
        try:
            self._check_auth(protocol, headers)
            reply = _chat_reply(body) if protocol == "openai" else _anthropic_reply(body, headers)
        except _ClientError as exc:
            payload = error_body(protocol, exc.status, exc.message)
            return Response(orjson.dumps(payload), exc.status, id_header, "application/json")

        model: str = body["model"]
        if not stream:
            render = _chat_json if protocol == "openai" else _anthropic_json
            obj = render(reply, model)
            return Response(orjson.dumps(obj), 200, id_header, "application/json")
        if protocol == "openai":
            options = body.get("stream_options")
            include_usage = isinstance(options, dict) and options.get("include_usage") is True
            events = _chat_events(reply, model, include_usage)
        else:
            events = _anthropic_events(reply, model)
        faults = self._take("cut"), self._take("malformed"), self._take("slow")
        return StreamingResponse(
            _stream(protocol, events, *faults, pace=_pace_of(model)),
            headers={**id_header, "cache-control": "no-cache"},
            media_type="text/event-stream",
        )

    def _check_auth(self, protocol: Protocol, headers: Mapping[str, str]) -> None:
        """Check the configured key, if any.

        Anthropic accepts ``x-api-key`` or ``Authorization: Bearer`` (recent SDKs send
        the API key as a bearer token).
        """
        if self.api_key is None:
            return
        bearer_ok = headers.get("authorization") == f"Bearer {self.api_key}"
        if protocol == "openai":
            if not bearer_ok:
                raise _ClientError(401, "Incorrect API key provided.")
        elif not bearer_ok and headers.get("x-api-key") != self.api_key:
            raise _ClientError(401, "invalid x-api-key")


_PACED_MODEL = re.compile(r"@(\d+(?:\.\d+)?)ms$")


def _pace_of(model: str) -> float:
    """A model named `<anything>@<N>ms` streams like a real model: N ms between events."""
    match = _PACED_MODEL.search(model)
    return float(match.group(1)) / 1000 if match else 0.0


async def _stream(
    protocol: Protocol,
    events: list[bytes],
    cut: _Fault | None,
    bad: _Fault | None,
    slow: _Fault | None,
    *,
    pace: float = 0.0,
) -> AsyncIterator[bytes]:
    if bad is not None:
        garbage = b"data: {this is not json\n\n"
        if protocol == "anthropic":
            garbage = b"event: content_block_delta\n" + garbage
        events = [*events[: bad.chunks], garbage, *events[bad.chunks :]]
    for sent, event in enumerate(events):
        if cut is not None and sent >= cut.chunks:
            if cut.abort:
                raise _StreamCutError
            return
        if slow is not None:
            await asyncio.sleep(slow.seconds)
        if pace and sent:
            await asyncio.sleep(pace)
        yield event


def _error_response(protocol: Protocol, fault: _Fault, extra: Mapping[str, str]) -> Response:
    headers = {**extra, **(fault.headers or {})}
    body = fault.body
    if body is None:
        body = error_body(protocol, fault.status)
    if isinstance(body, str | bytes):
        return Response(body, fault.status, headers, "text/plain")
    return Response(orjson.dumps(body), fault.status, headers, "application/json")


@contextmanager
def run_fake_upstream(
    api_key: str | None = None, *, timeout: float = 10.0
) -> Iterator[FakeUpstream]:
    """Serve a fresh :class:`FakeUpstream` on a free loopback port in a background thread."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    fake = FakeUpstream(api_key=api_key, port=sock.getsockname()[1])
    config = uvicorn.Config(
        fake.app,
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="fake-upstream", daemon=True
    )
    thread.start()
    try:
        _wait_until_listening(fake.host, fake.port, thread, timeout)
        yield fake
    finally:
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout)
        sock.close()


def _wait_until_listening(host: str, port: int, thread: threading.Thread, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("fake upstream server thread died during startup")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.01)
    raise TimeoutError(f"fake upstream did not start listening on {host}:{port}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the fake OpenAI/Anthropic upstream.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9001)
    parser.add_argument("--api-key", default=None)
    args = parser.parse_args(argv)
    fake = FakeUpstream(api_key=args.api_key, host=args.host, port=args.port, record=False)
    print(f"fake upstream: openai {fake.openai_base}  anthropic {fake.anthropic_base}", flush=True)
    uvicorn.run(
        fake.app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )


if __name__ == "__main__":
    main()
