"""The Provider port: one model call, whole or streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from tether.core.completion import Completion, CompletionRequest, Delta


class Provider(Protocol):
    """A model upstream. Implementations translate their errors into `UpstreamError`."""

    async def complete(self, request: CompletionRequest) -> Completion: ...

    def stream(self, request: CompletionRequest) -> AsyncIterator[list[Delta]]:
        """Deltas in order, in batches of those that arrived together (never empty),
        the last batch ending with exactly one `StreamEnd`. A batch is written to the
        client in one piece."""
        ...

    async def aclose(self) -> None: ...
