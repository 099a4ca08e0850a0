"""A fake OpenAI-compatible chat-completions model for running real clients against tether.

It answers the prompts the client suites send the way a real model would, deterministically:

* the last message is a tool result: ``"The tool returned: <result>"``;
* tools are offered and the last user message asks about the weather: one call of the
  weather tool (``get_weather`` when offered) with ``{"location": "San Francisco, CA"}``;
* ``"Reply with exactly: X"`` answers ``X``; ``"Reply with OK"`` answers ``OK``;
* ``"Reply with only the code word"`` answers the word from an earlier ``code word: X``;
* anything else: ``"You said: <last user message>"``.

Streaming (``stream: true``) sends one chunk a word and, with
``stream_options.include_usage``, a final usage chunk, as OpenAI does. Usage counts
whitespace words. Self-contained on purpose (only aiohttp): the tests' fake upstream
lives under ``tests/`` and scripts must not import from there.

Run: ``python scripts/clients/fake_model.py --port 9100`` (``--port 0`` picks a free
port and prints it as ``listening on http://127.0.0.1:PORT``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

_WEATHER = re.compile(r"\bweather\b", re.IGNORECASE)
_EXACTLY = re.compile(r"reply with exactly:\s*(.+?)\.?\s*$", re.IGNORECASE | re.DOTALL)
_OK = re.compile(r"\breply with ok\b", re.IGNORECASE)
_ASKS_CODE_WORD = re.compile(r"only the code word", re.IGNORECASE)
_CODE_WORD = re.compile(r"code word:\s*([\w-]+)", re.IGNORECASE)
_WORD = re.compile(r"\s*\S+\s*")
WEATHER_ARGUMENTS = {"location": "San Francisco, CA"}


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    tool_call: tuple[str, str] | None  # (name, JSON arguments)
    prompt_tokens: int

    @property
    def completion_tokens(self) -> int:
        args = len(self.tool_call[1].split()) if self.tool_call else 0
        return len(self.text.split()) + args


def _text(content: Any) -> str:
    """The text of a chat message's content: a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _tool_names(tools: Any) -> list[str]:
    if not isinstance(tools, list):
        return []
    return [t["function"]["name"] for t in tools if isinstance(t, dict) and "function" in t]


def _answer(user: str, history: list[str]) -> str:
    if exact := _EXACTLY.search(user):
        return exact.group(1).strip()
    if _OK.search(user):
        return "OK"
    if _ASKS_CODE_WORD.search(user):
        words = [m.group(1) for text in history for m in _CODE_WORD.finditer(text)]
        return words[-1] if words else "I do not know the code word."
    return "You said: " + user.strip()


def reply_to(body: dict[str, Any]) -> Reply:
    """Decide the reply to a chat-completions request body."""
    messages = [m for m in body.get("messages", []) if isinstance(m, dict)]
    texts = [_text(m.get("content")) for m in messages]
    prompt = sum(len(t.split()) for t in texts)
    if messages and messages[-1].get("role") == "tool":
        return Reply("The tool returned: " + texts[-1], None, prompt)
    user = next(
        (
            t
            for m, t in zip(reversed(messages), reversed(texts), strict=True)
            if m.get("role") == "user"
        ),
        "",
    )
    tools = _tool_names(body.get("tools"))
    if tools and _WEATHER.search(user):
        name = "get_weather" if "get_weather" in tools else tools[0]
        return Reply("", (name, json.dumps(WEATHER_ARGUMENTS)), prompt)
    return Reply(_answer(user, texts), None, prompt)


def _usage(reply: Reply) -> dict[str, int]:
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
    }


def _tool_calls(reply: Reply, call_id: str) -> list[dict[str, Any]]:
    assert reply.tool_call is not None
    name, arguments = reply.tool_call
    return [{"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}]


def completion(reply: Reply, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.tool_call:
        message["tool_calls"] = _tool_calls(reply, "call_" + secrets.token_hex(12))
    finish = "tool_calls" if reply.tool_call else "stop"
    return {
        "id": "chatcmpl-" + secrets.token_hex(12),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": _usage(reply),
    }


def chunks(reply: Reply, model: str, include_usage: bool) -> Iterator[dict[str, Any]]:
    """The stream of chat.completion.chunk objects for ``reply``."""
    base = {
        "id": "chatcmpl-" + secrets.token_hex(12),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return {**base, "choices": [choice], **({"usage": None} if include_usage else {})}

    yield chunk({"role": "assistant", "content": ""})
    for word in _WORD.findall(reply.text):
        yield chunk({"content": word})
    if reply.tool_call:
        call = _tool_calls(reply, "call_" + secrets.token_hex(12))[0]
        yield chunk({"tool_calls": [{"index": 0, **call}]})
    yield chunk({}, "tool_calls" if reply.tool_call else "stop")
    if include_usage:
        yield {**base, "choices": [], "usage": _usage(reply)}


async def chat_completions(request: web.Request) -> web.StreamResponse:
    try:
        body = await request.json()
    except json.JSONDecodeError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        error = {"message": "messages is required", "type": "invalid_request_error"}
        return web.json_response({"error": error}, status=400)
    model = str(body.get("model", "fake-model"))
    reply = reply_to(body)
    if not body.get("stream"):
        return web.json_response(completion(reply, model))
    options = body.get("stream_options") or {}
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    for obj in chunks(reply, model, bool(options.get("include_usage"))):
        await response.write(b"data: " + json.dumps(obj).encode() + b"\n\n")
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


def app() -> web.Application:
    application = web.Application()
    application.router.add_post("/v1/chat/completions", chat_completions)
    application.router.add_post("/chat/completions", chat_completions)
    return application


async def serve(host: str, port: int) -> None:
    runner = web.AppRunner(app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1]
    print(f"listening on http://{host}:{bound}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a developer stops it
        asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
