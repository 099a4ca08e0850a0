"""One turn from request to recorded response: chain, history, provider, record."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

from tether.compactor import Compactor
from tether.config import ModelRoute
from tether.core import ids
from tether.core.caller import Caller
from tether.core.compaction import Opener, estimated_tokens, summary_message
from tether.core.completion import CompletionRequest, Delta, StreamEnd, Usage
from tether.core.connection import ConnectionMemory
from tether.core.history import assemble, check_tool_outputs, expand_compactions
from tether.core.items import Item
from tether.core.records import Turn
from tether.core.response import finished, output_items, skeleton
from tether.core.settings import TurnSettings
from tether.core.stream import Event, ResponseStream
from tether.errors import PreviousResponseNotFound, SealingUnavailable, TetherError, UpstreamError
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
    overhead_seconds: float = 0.0  # the rest of the time to the first byte (transport's)


@dataclass(slots=True)
class TurnOutcome:
    """How a turn ended, for a transport that needs more than its events (WebSocket)."""

    turn: Turn | None = None  # the finished turn, whether stored or not
    error: TetherError | None = None  # what failed the stream, if anything


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
    chain: list[Turn]
    outcome: TurnOutcome
    leading: list[Item]  # output known before the model answers: an automatic compaction


class Gateway:
    def __init__(
        self,
        registry: ProviderRegistry,
        store: ConversationStore,
        compactor: Compactor | None = None,
    ) -> None:
        """`compactor` opens compaction items and compacts automatically (None: neither)."""
        self.registry = registry
        self.store = store
        self.latencies = StateLatencies()
        self._compactor = compactor

    async def prepare(
        self,
        settings: TurnSettings,
        input_items: list[Item],
        caller: Caller,
        memory: ConnectionMemory | None = None,
    ) -> PreparedTurn:
        """The turn's chain, history and model call; `input_items` are normalized.

        `memory` is a WebSocket connection's own: what it holds needs no store lookup.
        """
        route, provider = self.registry.get(settings.model)
        chain: list[Turn] = []
        if settings.previous_response_id is not None:
            chain = await self._chain(settings.previous_response_id, caller, memory)
        history = assemble(chain, input_items)
        new_from = len(history) - len(input_items)
        check_tool_outputs(history, new_from)
        if any(item["type"] == "compaction" for item in history):  # the provider sees summaries
            history = expand_compactions(history, self._opener(caller), new_from)
        leading: list[Item] = []
        threshold = settings.compact_threshold
        if threshold is not None and new_from and estimated_tokens(history[:new_from]) > threshold:
            item, summary = await self._compact(history[:new_from], route, provider, caller)
            history, leading = [summary_message(summary), *history[new_from:]], [item]
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
            chain=chain,
            outcome=TurnOutcome(),
            leading=leading,
        )

    def _opener(self, caller: Caller) -> Opener:
        if self._compactor is None:
            return lambda _blob: None
        return self._compactor.opener(caller)

    async def _compact(
        self, earlier: list[Item], route: ModelRoute, provider: Provider, caller: Caller
    ) -> tuple[Item, str]:
        """`context_management` compaction: what came before this turn's input, summarized
        by the route's model and sealed; the model then sees the summary and the input."""
        if self._compactor is None:
            raise SealingUnavailable("Automatic compaction is not available on this gateway.")
        item, summary, _usage = await self._compactor.summarize(
            earlier, None, caller, route, provider
        )
        return item, summary

    async def _chain(
        self, previous_id: str, caller: Caller, memory: ConnectionMemory | None
    ) -> list[Turn]:
        resolved = memory.resolve(previous_id) if memory is not None else None
        if resolved is not None and resolved.missing is None:
            return resolved.known
        missing = resolved.missing if resolved is not None else previous_id
        assert missing is not None
        started = time.perf_counter()
        try:
            head = await self.store.load_chain(missing, caller.scope)
        except PreviousResponseNotFound:
            raise PreviousResponseNotFound(previous_id) from None  # the id the client sent
        self.latencies.chain_lookup.add(time.perf_counter() - started)
        return head + resolved.known if resolved is not None else head

    async def create(self, turn: PreparedTurn) -> dict[str, Any]:
        started = time.perf_counter()
        completion = await turn.provider.complete(turn.call)
        turn.timing.upstream_seconds = time.perf_counter() - started
        output = [*turn.leading, *output_items(completion)]
        final = finished(turn.base, output, completion.finish, completion.usage, time.time())
        await self._record(turn, final)
        return final

    async def warm(self, turn: PreparedTurn) -> list[Event]:
        """`generate: false`: the turn is recorded with no output and no model call, so
        its id can be continued with its instructions, tools and input in place."""
        stream = ResponseStream(turn.base)
        events = stream.start()
        final = finished(turn.base, [], "stop", Usage(), time.time())
        await self._record(turn, final)
        return [*events, stream.completed(final)]

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
        stream = ResponseStream(turn.base, turn.leading)
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
            turn.outcome.error = exc
            yield events + stream.fail(exc.code or exc.type, exc.message)
        except StopAsyncIteration:
            error = UpstreamError("Upstream ended the stream early.", code="upstream_stream_cut")
            turn.outcome.error = error
            yield events + stream.fail(error.code or "", error.message)
        except (GeneratorExit, asyncio.CancelledError):
            log.info("client left stream %s; upstream request cancelled", turn.response_id)
            raise
        finally:
            await _close(batches)

    async def _record(self, turn: PreparedTurn, final: dict[str, Any]) -> None:
        record = Turn(
            id=turn.response_id,
            session=turn.session,
            parent_id=turn.parent_id,
            owner=turn.caller.owner,
            created_at=float(turn.base["created_at"]),
            input_items=turn.input_items,
            response=final,
        )
        turn.outcome.turn = record
        if not turn.store:
            return
        started = time.perf_counter()
        await self.store.record(record)
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
