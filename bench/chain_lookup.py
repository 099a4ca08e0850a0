"""Chain lookup latency (Redis, PostgreSQL, SQLite), record cost, and commits per 1,000 responses.

    python bench/chain_lookup.py [--loop asyncio|uvloop]

The default event loop is uvloop when it is installed, as under `tether serve`
(uvicorn[standard]); `--loop asyncio` measures the stock loop.

Uses the services the integration tests use (TETHER_TEST_REDIS_URL, default
redis://127.0.0.1:6379/0; TETHER_TEST_DATABASE_URL, default
postgresql://postgres@127.0.0.1:5432/test): Redis keys live under a random prefix,
PostgreSQL gets a fresh database; both are removed at the end. Runs in well under
two minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy.engine import make_url

from tether.config import CacheSettings, Settings
from tether.core.ids import new_item_id, new_response_id, new_session_tag
from tether.core.records import Turn, encode_turn
from tether.state import ConversationStore, StoreOptions, open_store_with
from tether.state.sql.database import SqlDatabase
from tether.state.sql.engine import create_engine
from tether.state.sql.migrate import migrate

REDIS_URL = os.environ.get("TETHER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
DATABASE_URL = os.environ.get(
    "TETHER_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
LENGTHS = (1, 10, 50)
ROUNDS = 1500
LOAD_RESPONSES = 5000
LOAD_CONCURRENCY = 50


def turn(parent: Turn | None, i: int) -> Turn:
    """About 1.5 KB encoded: a short question and a paragraph of answer."""
    session = parent.session if parent else new_session_tag()
    response_id = new_response_id(session)
    text = f"answer {i}: " + "lorem ipsum dolor sit amet " * 40
    return Turn(
        id=response_id,
        session=session,
        parent_id=parent.id if parent else None,
        owner="bench",
        created_at=time.time(),
        input_items=[
            {
                "id": new_item_id("msg_"),
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": f"question {i}? " * 10}],
                "status": "completed",
            }
        ],
        response={
            "id": response_id,
            "object": "response",
            "model": "echo",
            "output": [
                {
                    "id": new_item_id("msg_"),
                    "type": "message",
                    "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": text, "annotations": []}],
                }
            ],
        },
    )


def chain(length: int) -> list[Turn]:
    turns: list[Turn] = []
    for i in range(length):
        turns.append(turn(turns[-1] if turns else None, i))
    return turns


async def timed(call: Callable[[], Awaitable[object]], rounds: int = ROUNDS) -> tuple[float, float]:
    """p50 and p99 in milliseconds, after a warm-up."""
    for _ in range(min(100, rounds)):
        await call()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def row(label: str, figures: tuple[float, float]) -> None:
    print(f"  {label:<44} p50 {figures[0]:7.3f} ms   p99 {figures[1]:7.3f} ms")


def settings(database_url: str, redis: bool, **cache: float) -> Settings:
    base = CacheSettings(ttl_seconds=3600, max_responses_per_session=50)
    return Settings(
        redis_url=SecretStr(REDIS_URL) if redis else None,
        database_url=SecretStr(database_url),
        cache=base.model_copy(update=cache),
    )


@asynccontextmanager
async def fresh_postgres() -> AsyncIterator[str]:
    url = make_url(DATABASE_URL)
    name = f"tether_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(
        url.set(drivername="postgresql", database="postgres").render_as_string(False)
    )
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def bench_redis(database_url: str, prefix: str) -> None:
    print("chain lookup from Redis (ConversationStore.load_chain, records durable, all hits)")
    async with open_store_with(
        settings(database_url, redis=True), StoreOptions(key_prefix=prefix)
    ) as store:
        for length in LENGTHS:
            turns = chain(length)
            for t in turns:
                await store.record(t)
            await store.flush()
            last = turns[-1].id
            row(
                f"{length:>2} turns", await timed(lambda last=last: store.load_chain(last, "bench"))
            )  # type: ignore[misc]
        assert store.stats()["misses"] == 0


async def bench_database(label: str, database_url: str) -> None:
    print(f"chain lookup from {label} (one recursive query + decoding, the cache-miss path)")
    engine = create_engine(database_url)
    try:
        await migrate(engine)
        database = SqlDatabase(engine)
        for length in LENGTHS:
            turns = chain(length)
            async with open_store_with(settings(database_url, redis=False), StoreOptions()) as s:
                for t in turns:
                    await s.record(t)
            last = turns[-1].id

            async def miss(last: str = last, length: int = length) -> None:
                rows = await database.chain(last, 10_000)
                assert len([r.turn() for r in rows]) == length

            row(f"{length:>2} turns", await timed(miss))
    finally:
        await engine.dispose()


async def bench_record(database_url: str, sqlite_url: str, prefix: str) -> None:
    print("recording a turn (ConversationStore.record)")
    cases = [
        ("Redis (journaled; database written behind)", database_url, True),
        ("embedded, SQLite commit inside record()", sqlite_url, False),
        ("no Redis, PostgreSQL commit inside record()", database_url, False),
    ]
    for label, url, redis in cases:
        async with open_store_with(settings(url, redis), StoreOptions(key_prefix=prefix)) as store:
            parent = turn(None, 0)
            await store.record(parent)

            async def record(store: ConversationStore = store, parent: Turn = parent) -> None:
                await store.record(turn(parent, 1))

            row(label, await timed(record, rounds=1000))


async def bench_load(database_url: str, prefix: str) -> None:
    print(f"durable writer under load ({LOAD_RESPONSES} responses, {LOAD_CONCURRENCY} at a time)")
    config = settings(database_url, redis=True)
    turns = [turn(None, i) for i in range(LOAD_RESPONSES)]
    started = time.perf_counter()
    async with open_store_with(config, StoreOptions(key_prefix=prefix)) as store:
        for start in range(0, len(turns), LOAD_CONCURRENCY):
            await asyncio.gather(
                *(store.record(t) for t in turns[start : start + LOAD_CONCURRENCY])
            )
        recorded = time.perf_counter() - started
    stats = store.stats()
    per_thousand = stats["db_commits"] * 1000 / LOAD_RESPONSES
    print(
        f"  recorded {LOAD_RESPONSES / recorded:,.0f} responses/s; rows written {stats['writer_rows']}"
    )
    print(
        f"  database commits: {stats['db_commits']} "
        f"({per_thousand:.1f} per 1,000 responses; batch {config.cache.flush_batch_size})"
    )


async def main() -> None:
    prefix = f"tether-bench:{secrets.token_hex(4)}:v1:"
    redis = Redis.from_url(REDIS_URL)
    size = len(encode_turn(turn(None, 0)))
    print(f"record size ~{size} bytes; {ROUNDS} rounds per lookup figure\n")
    try:
        async with fresh_postgres() as postgres_url:
            with tempfile.TemporaryDirectory() as scratch:
                sqlite_url = f"sqlite:///{Path(scratch) / 'bench.db'}"
                await bench_redis(postgres_url, prefix)
                await bench_database("PostgreSQL", postgres_url)
                await bench_database("SQLite", sqlite_url)
                await bench_record(postgres_url, sqlite_url, prefix)
                await bench_load(postgres_url, prefix)
    finally:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*", count=1000)]
        for start in range(0, len(keys), 500):
            await redis.unlink(*keys[start : start + 500])
        await redis.aclose()


def run(loop: str) -> None:
    print(f"event loop: {loop}")
    if loop == "uvloop":
        import uvloop

        uvloop.run(main())
    else:
        asyncio.run(main())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    has_uvloop = importlib.util.find_spec("uvloop") is not None
    parser.add_argument(
        "--loop", choices=["asyncio", "uvloop"], default="uvloop" if has_uvloop else "asyncio"
    )
    started = time.monotonic()
    run(parser.parse_args().loop)
    print(f"\n(done in {time.monotonic() - started:.0f} s)", file=sys.stderr)
