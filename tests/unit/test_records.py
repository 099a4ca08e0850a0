"""Stored turns: their wire form round-trips, and a record kept in memory costs its size."""

from __future__ import annotations

import tracemalloc

from tether.core.records import Turn, decode_turn, encode_turn


def turn(text: str) -> Turn:
    return Turn(
        id="resp_" + "a" * 64,
        session="a" * 32,
        parent_id=None,
        owner="alice",
        created_at=1.5,
        input_items=[{"type": "message", "role": "user", "content": text}],
        response={"id": "resp_" + "a" * 64, "output": [], "status": "completed"},
    )


def test_a_record_round_trips() -> None:
    original = turn("hello")
    assert decode_turn(encode_turn(original)) == original


def test_records_kept_in_memory_cost_about_their_size() -> None:
    # Pending records wait in memory until the database has them: 2 KB turns must not
    # hold 16 KB each (orjson's working buffer), nor 100 KB ones a megabyte.
    for size in (2_000, 100_000):
        tracemalloc.start()
        try:
            kept = [encode_turn(turn("x" * size)) for _ in range(50)]
            held, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert held < 1.5 * sum(len(record) for record in kept)
