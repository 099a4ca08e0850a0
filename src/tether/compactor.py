"""Compaction as a service: a conversation summarized by its route's model and sealed into
one compaction item, and the opener that turns such items back into their summaries
(the gateway calls it before any turn reaches a provider)."""

from __future__ import annotations

import time
from typing import Any

import orjson

from tether.config import ModelRoute
from tether.core import ids
from tether.core.caller import Caller
from tether.core.compaction import (
    DEFAULT_PROMPT,
    ITEM_ID_PREFIX,
    Opener,
    compaction_item,
    kept_items,
    transcript,
)
from tether.core.completion import CompletionRequest, Usage
from tether.core.history import assemble, expand_compactions
from tether.core.items import Item, user_message
from tether.core.records import Turn
from tether.core.response import usage_object
from tether.core.settings import TurnSettings
from tether.errors import InvalidRequest, SealingUnavailable
from tether.providers.port import Provider
from tether.providers.registry import ProviderRegistry
from tether.sealing import Sealer
from tether.state.store import ConversationStore

PURPOSE = b"tether/compaction/v1"  # authenticated with every blob: a summary, nothing else
KEYS_SETTING = "general_settings.encryption_keys"


class Compactor:
    def __init__(
        self, registry: ProviderRegistry, store: ConversationStore, sealer: Sealer | None
    ) -> None:
        self.registry = registry
        self.store = store
        self._sealer = sealer

    async def compact(
        self,
        model: str,
        input_items: list[Item],
        previous_response_id: str | None,
        instructions: str | None,
        caller: Caller,
    ) -> dict[str, Any]:
        """The compacted window (OpenAI's `response.compaction`): the user messages, then
        one compaction item sealing the route model's summary of everything."""
        self._required()
        route, provider = self.registry.get(model)
        chain: list[Turn] = []
        if previous_response_id is not None:
            chain = await self.store.load_chain(previous_response_id, caller.scope)
        history = assemble(chain, input_items)
        if not history:
            raise InvalidRequest(
                "There is nothing to compact: send input or a previous_response_id.",
                param="input",
            )
        new_from = len(history) - len(input_items)
        opened = expand_compactions(history, self.opener(caller), new_from)
        item, _summary, usage = await self.summarize(opened, instructions, caller, route, provider)
        return {
            "id": ids.new_response_id(ids.new_session_tag()),
            "object": "response.compaction",
            "created_at": int(time.time()),
            "output": [*kept_items(history), item],
            "usage": usage_object(usage),
        }

    async def summarize(
        self,
        opened: list[Item],
        instructions: str | None,
        caller: Caller,
        route: ModelRoute,
        provider: Provider,
    ) -> tuple[Item, str, Usage]:
        """The route model's summary of `opened` (compaction items already opened), as a
        sealed compaction item, the summary itself, and what the call used."""
        sealer = self._required()
        settings = TurnSettings(
            model=route.name, instructions=route.compaction_prompt or DEFAULT_PROMPT
        )
        call = CompletionRequest(
            route.upstream_model, [user_message(transcript(opened, instructions))], settings
        )
        completion = await provider.complete(call)
        sealed = {"summary": completion.text, "owner": caller.owner}
        blob = sealer.seal(orjson.dumps(sealed), PURPOSE)
        return (
            compaction_item(ids.new_item_id(ITEM_ID_PREFIX), blob),
            completion.text,
            completion.usage,
        )

    def opener(self, caller: Caller) -> Opener:
        """Opens compaction items for `caller`: only those sealed for the same key (or any,
        for the master key), as a stored response is continuable only with its own key."""
        sealer = self._sealer  # None: nothing was sealed here, so nothing opens (a 400)

        def open_blob(blob: str) -> str | None:
            plaintext = sealer.open(blob, PURPOSE) if sealer is not None else None
            if plaintext is None:
                return None
            sealed = orjson.loads(plaintext)
            if not caller.sees_all and sealed.get("owner") != caller.owner:
                return None  # another key's: answered as a forgery, revealing nothing
            summary = sealed.get("summary")
            return summary if isinstance(summary, str) else None

        return open_blob

    def _required(self) -> Sealer:
        if self._sealer is None:
            raise SealingUnavailable(
                f"Compaction needs {KEYS_SETTING} (or TETHER_ENCRYPTION_KEYS) when the "
                "database is shared: every instance must hold the same key."
            )
        return self._sealer
