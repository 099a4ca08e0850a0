"""The HTTP providers hand on streamed deltas in the batches they arrived in.

Each batch becomes one write to the client, so a reply whose tokens arrive together
costs one write, not one per token; a slow upstream's tokens still go out one by one.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.fakes.upstream import FakeUpstream
from tether.core.completion import CompletionRequest, Delta, StreamEnd, TextDelta
from tether.core.items import normalize_input
from tether.core.settings import TurnSettings
from tether.errors import UpstreamError
from tether.providers.anthropic import AnthropicProvider
from tether.providers.http import HttpProvider, Timeouts
from tether.providers.openai_chat import OpenAIChatProvider

WORDS = [f"w{i}" for i in range(40)]


def provider(upstream: FakeUpstream, dialect: str) -> HttpProvider:
    if dialect == "chat":
        return OpenAIChatProvider.create(
            "chat", upstream.openai_base, "sk-x", Timeouts(connect=5.0, read=60.0)
        )
    return AnthropicProvider.create(
        "claude", upstream.anthropic_base, "sk-x", Timeouts(connect=5.0, read=60.0)
    )


def request() -> CompletionRequest:
    return CompletionRequest("m", normalize_input(" ".join(WORDS)), TurnSettings(model="m"))


async def streamed(
    upstream: FakeUpstream, dialect: str, fault: Callable[[], None] | None = None
) -> tuple[list[str], list[list[Delta]], UpstreamError | None]:
    """The whole reply's words (asked first), then the batches of the same reply
    streamed after `fault` was set up, and the error that ended it, if one did."""
    upstream.clear()
    model = provider(upstream, dialect)
    found: list[list[Delta]] = []
    error = None
    try:
        expected = (await model.complete(request())).text.split()
        if fault is not None:
            fault()
        async for batch in model.stream(request()):
            found.append(batch)
    except UpstreamError as exc:
        error = exc
    finally:
        await model.aclose()
    return expected, found, error


def words(found: list[list[Delta]]) -> list[str]:
    return "".join(d.text for batch in found for d in batch if isinstance(d, TextDelta)).split()


@pytest.mark.parametrize("dialect", ["chat", "claude"])
async def test_deltas_that_arrive_together_come_in_one_batch(
    upstream: FakeUpstream, dialect: str
) -> None:
    expected, found, error = await streamed(upstream, dialect)
    assert error is None
    assert words(found) == expected
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
    expected, found, error = await streamed(upstream, dialect, lambda: upstream.slow_stream(0.01))
    assert error is None
    assert words(found) == expected
    text_batches = [batch for batch in found if any(isinstance(d, TextDelta) for d in batch)]
    assert all(len(batch) == 1 for batch in text_batches)


@pytest.mark.parametrize("dialect", ["chat", "claude"])
async def test_deltas_before_a_malformed_event_still_come_then_the_error(
    upstream: FakeUpstream, dialect: str
) -> None:
    expected, found, error = await streamed(
        upstream, dialect, lambda: upstream.malformed_stream(after_chunks=6)
    )
    assert error is not None
    assert error.code == "upstream_malformed"
    # The good deltas before the bad event were handed on, in order.
    assert words(found)
    assert expected[: len(words(found))] == words(found)
