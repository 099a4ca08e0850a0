"""The Provider port: one model call, whole or streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from tether.core.completion import Completion, CompletionRequest, Delta


class Provider(Protocol):
    """A model upstream. Implementations translate their errors into `UpstreamError`."""

    async def complete(self, request: CompletionRequest) -> Completion: ...

    def stream(self, request: CompletionRequest) -> AsyncIterator[Delta]:
        """Deltas in order, ending with exactly one `StreamEnd`."""
        ...

    async def aclose(self) -> None: ...
