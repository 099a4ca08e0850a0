"""The ConversationStore contract, on every cache and database pair."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from tests.support.backends import Backend
from tests.support.turns import ids, make_chain, make_turn
from tether.core.ids import new_response_id, new_session_tag
from tether.core.records import Turn
from tether.errors import PreviousResponseNotFound
from tether.state import ConversationStore
from tether.state.sql.engine import create_engine


async def record_all(store: ConversationStore, turns: list[Turn]) -> None:
    for turn in turns:
        await store.record(turn)


async def count_rows(backend: Backend, response_ids: list[str]) -> int:
    engine = create_engine(backend.database_url)
    try:
        async with engine.connect() as connection:
            query = sa.text("SELECT count(*) FROM responses WHERE id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)
            )
            return int((await connection.execute(query, {"ids": response_ids})).scalar_one())
    finally:
        await engine.dispose()


async def test_a_recorded_turn_can_be_continued_at_once(backend: Backend) -> None:
    turn = make_turn()
    async with backend.open() as store:
        await store.record(turn)
        assert await store.load_chain(turn.id, "alice") == [turn]
        assert await store.get(turn.id, "alice") == turn


async def test_chain_is_oldest_first_and_branches_stay_apart(backend: Backend) -> None:
    root = make_turn(text="root")
    left, right = make_turn(root, text="left"), make_turn(root, text="right")
    left2 = make_turn(left, text="left again")
    async with backend.open() as store:
        await record_all(store, [root, left, right, left2])
        assert ids(await store.load_chain(left2.id, "alice")) == ids([root, left, left2])
        assert ids(await store.load_chain(right.id, "alice")) == ids([root, right])
        # Continuing an older turn ignores everything recorded after it.
        later = make_turn(left, text="left, second try")
        await store.record(later)
        assert ids(await store.load_chain(later.id, "alice")) == ids([root, left, later])


@pytest.mark.parametrize(
    "response_id",
    [
        new_response_id(new_session_tag()),  # well-formed, never stored
        "resp_nope",
        "",
        "resp_" + "G" * 64,
        "resp_" + "a" * 64 + "\n",
        "msg_" + "a" * 64,
        "resp_{" + "a" * 31 + "}" + "a" * 32,
    ],
)
async def test_unknown_and_malformed_ids_are_not_found(backend: Backend, response_id: str) -> None:
    async with backend.open() as store:
        with pytest.raises(PreviousResponseNotFound) as raised:
            await store.load_chain(response_id, "alice")
        assert raised.value.param == "previous_response_id"
        assert await store.get(response_id, None) is None
        assert await store.delete(response_id, None) is False


async def test_malformed_ids_never_reach_cache_or_database(backend: Backend) -> None:
    async with backend.open() as store:
        before = store.stats()
        for bad in ["resp_x", "resp_" + "a" * 63, "*", "resp_" + "A" * 64]:
            with pytest.raises(PreviousResponseNotFound):
                await store.load_chain(bad, None)
        assert store.stats() == before


async def test_foreign_ids_look_unknown_and_the_master_key_sees_all(backend: Backend) -> None:
    alice = make_turn(owner="alice")
    async with backend.open() as store:
        await store.record(alice)
        with pytest.raises(PreviousResponseNotFound):
            await store.load_chain(alice.id, "bob")
        assert await store.get(alice.id, "bob") is None
        assert await store.delete(alice.id, "bob") is False
        assert await store.load_chain(alice.id, None) == [alice]
        assert await store.get(alice.id, None) == alice


async def test_delete_removes_everywhere_and_stays_deleted(backend: Backend) -> None:
    root, durable_child, pending_child = make_chain(3)
    async with backend.open() as store:
        await record_all(store, [root, durable_child])
        await store.flush()
        await store.record(pending_child)  # still pending when deleted (Redis mode)
        assert await store.delete(durable_child.id, "alice") is True
        assert await store.delete(pending_child.id, "alice") is True
        assert await store.delete(pending_child.id, "alice") is False
        await store.flush()
        for gone in (durable_child, pending_child):
            assert await store.get(gone.id, None) is None
            with pytest.raises(PreviousResponseNotFound):
                await store.load_chain(gone.id, None)
        assert await store.load_chain(root.id, "alice") == [root]
    assert await count_rows(backend, ids([durable_child, pending_child])) == 0
    async with backend.open_database_only() as durable:
        assert await durable.get(durable_child.id, None) is None
        assert await durable.get(root.id, None) == root


async def test_a_large_turn_is_stored_whole(backend: Backend) -> None:
    big = make_turn(pad=100 * 1024)
    async with backend.open() as store:
        await store.record(big)
        assert await store.load_chain(big.id, "alice") == [big]
    async with backend.open_database_only() as durable:
        assert await durable.get(big.id, "alice") == big


async def test_a_chain_longer_than_the_session_cap_is_replayed_whole(backend: Backend) -> None:
    chain = make_chain(60)
    async with backend.open(max_responses_per_session=50) as store:
        await record_all(store, chain)
        await store.flush()  # durable, so the cache may now trim to 50
        before = store.stats()
        assert ids(await store.load_chain(chain[-1].id, "alice")) == ids(chain)
        after = store.stats()
        assert after.misses == before.misses + 1
        # The session is at its cap with newer turns: refilling the older ten would
        # only trim them again.
        assert after.refilled_records == before.refilled_records


async def test_expired_turns_come_back_from_the_database(backend: Backend) -> None:
    chain = make_chain(3)
    async with backend.open(ttl_seconds=1) as store:
        await record_all(store, chain)
        await store.flush()
        assert ids(await store.load_chain(chain[-1].id, "alice")) == ids(chain)
        assert store.stats().misses == 0
        await asyncio.sleep(1.3)
        assert ids(await store.load_chain(chain[-1].id, "alice")) == ids(chain)
        assert store.stats().misses == 1
        assert store.stats().refills == 1
        assert store.stats().refilled_records == 3
        # The refill put them back in the cache.
        assert ids(await store.load_chain(chain[-1].id, "alice")) == ids(chain)
        assert store.stats().misses == 1


async def test_closing_the_store_makes_everything_durable(backend: Backend) -> None:
    turns = make_chain(5) + [make_turn(owner="bob") for _ in range(15)]
    async with backend.open() as store:
        await record_all(store, turns)
    async with backend.open_database_only() as durable:
        for turn in turns:
            assert await durable.get(turn.id, None) == turn


async def test_another_instance_sees_a_turn_immediately(backend: Backend) -> None:
    first, second = make_chain(2)
    async with backend.open() as gateway_a, backend.open() as gateway_b:
        await gateway_a.record(first)
        assert await gateway_b.load_chain(first.id, "alice") == [first]
        await gateway_b.record(second)
        assert ids(await gateway_a.load_chain(second.id, "alice")) == ids([first, second])
        if backend.redis:  # shared Redis: no database involved at all
            assert gateway_a.stats().misses == gateway_b.stats().misses == 0


async def test_readiness_reports_each_part(backend: Backend) -> None:
    async with backend.open() as store:
        ready = await store.readiness()
    assert ready["cache"]["backend"] == backend.cache
    assert ready["cache"]["status"] == ready["database"]["status"] == "ok"
    assert ready["database"]["dialect"] == backend.database
    assert ready["database"]["migration"] == "0001"
    assert ready["writer"]["mode"] == ("batched" if backend.redis else "synchronous")
    assert ready["writer"]["running"] is True


async def test_recording_a_turn_twice_stores_one_row(backend: Backend) -> None:
    turn = make_turn()
    async with backend.open() as store:
        await store.record(turn)
        await store.flush()
        await store.record(turn)
        await store.flush()
        assert await store.load_chain(turn.id, "alice") == [turn]
    assert await count_rows(backend, [turn.id]) == 1
