"""The HTTP providers hand on streamed deltas in the batches they arrived in.

Each batch becomes one write to the client, so a reply whose tokens arrive together
costs one write, not one per token; a slow upstream's tokens still go out one by one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.upstream import FakeUpstream
from tether.core.completion import CompletionRequest, Delta, StreamEnd, TextDelta
from tether.core.items import normalize_input
from tether.errors import UpstreamError
from tether.providers.anthropic import AnthropicProvider
from tether.providers.dialect import HttpProvider
from tether.providers.http import Timeouts
from tether.providers.openai_chat import OpenAIChatProvider

WORDS = [f"w{i}" for i in range(40)]


def provider(upstream: FakeUpstream, dialect: str) -> HttpProvider:
    if dialect == "chat":
        return OpenAIChatProvider.create("chat", upstream.openai_base, "sk-x", Timeouts())
    return AnthropicProvider.create("claude", upstream.anthropic_base, "sk-x", Timeouts())


def request() -> CompletionRequest:
    return CompletionRequest(model="m", items=normalize_input(" ".join(WORDS)))


async def batches(stream: AsyncIterator[list[Delta]]) -> list[list[Delta]]:
    return [batch async for batch in stream]


async def until_error(stream: AsyncIterator[list[Delta]]) -> tuple[list[list[Delta]], Exception]:
    found: list[list[Delta]] = []
    try:
        async for batch in stream:
            found.append(batch)
    except UpstreamError as exc:
        return found, exc
    raise AssertionError("the stream ended without an error")


async def whole_reply(model: HttpProvider) -> list[str]:
    return (await model.complete(request())).text.split()


def text(found: list[list[Delta]]) -> str:
    return "".join(d.text for batch in found for d in batch if isinstance(d, TextDelta))


@pytest.mark.parametrize("dialect", ["chat", "claude"])
async def test_deltas_that_arrive_together_come_in_one_batch(
    upstream: FakeUpstream, dialect: str
) -> None:
    upstream.clear()
    model = provider(upstream, dialect)
    try:
        expected = await whole_reply(model)
        found = await batches(model.stream(request()))
    finally:
        await model.aclose()
    assert text(found).split() == expected
    assert len(expected) >= len(WORDS)
    assert all(found), "no empty batches"
    assert isinstance(found[-1][-1], StreamEnd)
    assert sum(isinstance(d, StreamEnd) for batch in found for d in batch) == 1
    # The fake writes its whole reply at once: far fewer batches than deltas.
    assert len(found) < len(WORDS) / 4


@pytest.mark.parametrize("dialect", ["chat", "claude"])
async def test_a_slow_upstreams_deltas_come_one_batch_each(
    upstream: FakeUpstream, dialect: str
) -> None:
    upstream.clear()
    model = provider(upstream, dialect)
    try:
        expected = await whole_reply(model)
        upstream.slow_stream(0.01)
        found = await batches(model.stream(request()))
    finally:
        await model.aclose()
    assert text(found).split() == expected
    text_batches = [batch for batch in found if any(isinstance(d, TextDelta) for d in batch)]
    assert all(len(batch) == 1 for batch in text_batches)


@pytest.mark.parametrize("dialect", ["chat", "claude"])
async def test_deltas_before_a_malformed_event_still_come_then_the_error(
    upstream: FakeUpstream, dialect: str
) -> None:
    upstream.clear()
    model = provider(upstream, dialect)
    try:
        expected = await whole_reply(model)
        upstream.malformed_stream(after_chunks=6)
        found, error = await until_error(model.stream(request()))
    finally:
        await model.aclose()
    assert isinstance(error, UpstreamError)
    assert error.code == "upstream_malformed"
    # The good deltas before the bad event were handed on, in order.
    assert text(found).split()
    assert expected[: len(text(found).split())] == text(found).split()
