"""One turn from request to recorded response: chain, history, provider, record."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

from tether.core import ids
from tether.core.caller import Caller
from tether.core.completion import CompletionRequest, Delta, StreamEnd
from tether.core.history import assemble, check_tool_outputs
from tether.core.items import Item
from tether.core.records import Turn
from tether.core.response import finished, output_items, skeleton
from tether.core.settings import TurnSettings
from tether.core.stream import Event, ResponseStream
from tether.errors import TetherError, UpstreamError
from tether.observability.latency import StateLatencies
from tether.providers.port import Provider
from tether.providers.registry import ProviderRegistry
from tether.state.store import ConversationStore

log = logging.getLogger("tether.gateway")
_SESSION_KEYS = ("session_id", "litellm_session_id")


@dataclass(slots=True)
class TurnTiming:
    """Upstream time, so the gateway's own overhead can be told apart from it."""

    upstream_seconds: float = 0.0  # the whole call, or the wait for the first delta
    chain_turns: int = 0


@dataclass(frozen=True, slots=True)
class PreparedTurn:
    """Everything known before the model is called."""

    response_id: str
    session: str
    caller: Caller
    parent_id: str | None
    input_items: list[Item]
    call: CompletionRequest
    base: dict[str, Any]
    store: bool
    provider: Provider
    timing: TurnTiming


class Gateway:
    def __init__(self, registry: ProviderRegistry, store: ConversationStore) -> None:
        self.registry = registry
        self.store = store
        self.latencies = StateLatencies()

    async def prepare(
        self, settings: TurnSettings, input_items: list[Item], caller: Caller
    ) -> PreparedTurn:
        """The turn's chain, history and model call; `input_items` are normalized."""
        route, provider = self.registry.get(settings.model)
        chain: list[Turn] = []
        if settings.previous_response_id is not None:
            started = time.perf_counter()
            chain = await self.store.load_chain(settings.previous_response_id, caller.scope)
            self.latencies.chain_lookup.add(time.perf_counter() - started)
        history = assemble(chain, input_items)
        check_tool_outputs(history, len(history) - len(input_items))
        session = chain[-1].session if chain else _new_session(settings, caller)
        response_id = ids.new_response_id(session)
        return PreparedTurn(
            response_id=response_id,
            session=session,
            caller=caller,
            parent_id=settings.previous_response_id,
            input_items=input_items,
            call=CompletionRequest(route.upstream_model, history, settings),
            base=skeleton(response_id, settings, time.time()),
            store=settings.store,
            provider=provider,
            timing=TurnTiming(chain_turns=len(chain)),
        )

    async def create(self, turn: PreparedTurn) -> dict[str, Any]:
        started = time.perf_counter()
        completion = await turn.provider.complete(turn.call)
        turn.timing.upstream_seconds = time.perf_counter() - started
        output = output_items(completion)
        final = finished(turn.base, output, completion.finish, completion.usage, time.time())
        await self._record(turn, final)
        return final

    async def stream(self, turn: PreparedTurn) -> AsyncGenerator[list[Event]]:
        """Events in batches, each batch one write: the deltas that arrived together.

        The first upstream deltas are awaited before anything is sent, so an upstream
        that fails at once gets a plain HTTP error, not a broken stream; they go out in
        the same write as the response's opening events.
        """
        batches = turn.provider.stream(turn.call)
        started = time.perf_counter()
        first = await anext(batches)
        turn.timing.upstream_seconds = time.perf_counter() - started
        return self._events(turn, first, batches)

    async def _events(
        self, turn: PreparedTurn, first: list[Delta], batches: AsyncIterator[list[Delta]]
    ) -> AsyncGenerator[list[Event]]:
        stream = ResponseStream(turn.base)
        events = stream.start()
        deltas = first
        try:
            while True:
                for delta in deltas:
                    if isinstance(delta, StreamEnd):
                        closing, final = stream.finish(delta, time.time())
                        yield events + closing
                        events = []
                        await self._record(turn, final)  # before the client can see it complete
                        yield [stream.completed(final)]
                        return
                    events += stream.feed(delta)
                yield events
                events = []
                deltas = await anext(batches)
        except TetherError as exc:
            log.warning("stream %s failed: %s", turn.response_id, exc.message)
            yield events + stream.fail(exc.code or exc.type, exc.message)
        except StopAsyncIteration:
            error = UpstreamError("Upstream ended the stream early.", code="upstream_stream_cut")
            yield events + stream.fail(error.code or "", error.message)
        except (GeneratorExit, asyncio.CancelledError):
            log.info("client left stream %s; upstream request cancelled", turn.response_id)
            raise
        finally:
            await _close(batches)

    async def _record(self, turn: PreparedTurn, final: dict[str, Any]) -> None:
        if not turn.store:
            return
        started = time.perf_counter()
        await self.store.record(
            Turn(
                id=turn.response_id,
                session=turn.session,
                parent_id=turn.parent_id,
                owner=turn.caller.owner,
                created_at=float(turn.base["created_at"]),
                input_items=turn.input_items,
                response=final,
            )
        )
        self.latencies.record.add(time.perf_counter() - started)


async def _close(batches: AsyncIterator[list[Delta]]) -> None:
    aclose = getattr(batches, "aclose", None)
    if aclose is not None:
        await aclose()


def _new_session(settings: TurnSettings, caller: Caller) -> str:
    metadata = settings.metadata or {}
    for key in _SESSION_KEYS:
        if metadata.get(key):
            return ids.named_session_tag(caller.owner, metadata[key])
    return ids.new_session_tag()
