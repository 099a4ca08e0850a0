"""The garbage collector, set for a long-running server: kept because `bench/ab.py` shows
it pays (without it a turn costs 13-22% more CPU; docs/architecture.md)."""

from __future__ import annotations

import gc

# A turn allocates a few thousand short-lived objects, nearly all freed by reference
# counting: a young collection every 10,000 net allocations instead of 700 finds little
# less, and stops re-walking what start-up left behind.
YOUNG_THRESHOLD = 10_000


def settle() -> None:
    """Once start-up is done: what it made lives as long as the process, so the
    collector stops walking it (gc.freeze), and young collections become rarer."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
