"""History assembly: a chain of turns replayed as one item list (OpenAI's rules)."""

from __future__ import annotations

from collections.abc import Iterable

from tether.core.items import Item
from tether.core.records import Turn


def assemble(chain: Iterable[Turn], new_items: list[Item]) -> list[Item]:
    """Oldest turn first: each turn's input then its output, then this turn's input.

    Only items are inherited; earlier `instructions`, `tools`, sampling settings and
    `metadata` stay with the turn that sent them.
    """
    history: list[Item] = []
    for turn in chain:
        history.extend(turn.input_items)
        history.extend(turn.output_items)
    history.extend(new_items)
    return history
