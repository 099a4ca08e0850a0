"""Who is calling: the owner recorded on their turns, and what they may read."""

from __future__ import annotations

from dataclasses import dataclass

ANONYMOUS = "anonymous"
MASTER = "master"


@dataclass(frozen=True, slots=True)
class Caller:
    owner: str  # recorded on every turn this caller creates
    sees_all: bool  # the master key (or auth switched off) reads every owner's turns

    @property
    def scope(self) -> str | None:
        """The owner filter for reads: None means every owner."""
        return None if self.sees_all else self.owner
