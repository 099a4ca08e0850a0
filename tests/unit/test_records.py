"""Stored turns: their wire form round-trips, and a record kept in memory costs its size."""

from __future__ import annotations

import tracemalloc

from tether.core.records import DecodedRecords, Turn, decode_turn, encode_turn


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


def test_decoded_records_are_decoded_once_and_held_within_their_bound() -> None:
    decoded = DecodedRecords(limit_bytes=64_000)
    records = [encode_turn(turn(f"{n} " + "x" * 2_000)) for n in range(40)]
    first = decoded.decode(records[0])
    assert first == decode_turn(records[0])
    assert decoded.decode(records[0]) is first  # the same turn, not decoded again
    for record in records:
        decoded.decode(record)
    assert decoded.held <= 64_000
    assert decoded.decode(records[0]) is not first  # the oldest went first
    assert decoded.decode(records[-1]) is decoded.decode(records[-1])


def test_a_record_too_large_for_the_bound_is_decoded_but_not_held() -> None:
    decoded = DecodedRecords(limit_bytes=64_000)
    small = encode_turn(turn("small"))
    decoded.decode(small)
    large = encode_turn(turn("x" * 10_000))
    assert decoded.decode(large) == decode_turn(large)
    assert decoded.held == len(small)
