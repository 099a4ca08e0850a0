"""CPU per store operation (Redis + PostgreSQL), with many in flight, in one process.

    python bench/store_cpu.py [--concurrency 16] [--operations 4000]

A 10-turn chain per virtual user; then, with `--concurrency` users at once, the CPU
time (user + system, this process: tether's share, not Redis's) of `load_chain` on
each chain's last turn, and of `record` of a new turn (the durable writer's share
included, as it runs in the same process). Uses the services of bench/chain_lookup.py.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable

from chain_lookup import chain, fresh_postgres, settings, turn
from tether.core.records import Turn
from tether.state import ConversationStore, StoreOptions, open_store_with


async def cpu_per_call(
    users: list[list[Turn]], count: int, call: Callable[[list[Turn]], Awaitable[object]]
) -> tuple[float, float]:
    """Operations per second and CPU microseconds per operation, `len(users)` at a time."""

    async def user(turns: list[Turn], n: int) -> None:
        for _ in range(n):
            await call(turns)

    await asyncio.gather(*(user(turns, 20) for turns in users))  # warm-up
    per_user = max(1, count // len(users))
    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(user(turns, per_user) for turns in users))
    done = per_user * len(users)
    return done / (time.perf_counter() - wall), (time.process_time() - cpu) / done * 1e6


async def run(concurrency: int, operations: int) -> None:
    async with fresh_postgres() as database:
        options = StoreOptions(key_prefix=f"tether:bench{secrets.token_hex(3)}:")
        async with open_store_with(settings(database, redis=True), options) as store:
            users = [chain(10) for _ in range(concurrency)]
            for turns in users:
                for t in turns:
                    await store.record(t)
            await store.flush()

            async def lookup(turns: list[Turn]) -> object:
                return await store.load_chain(turns[-1].id, None)

            async def record(turns: list[Turn]) -> object:
                return await _record(store, turn(turns[-1], 11))

            print(f"{concurrency} at a time, {operations} operations each (CPU of this process)")
            for label, call in (("load_chain, 10 turns", lookup), ("record", record)):
                rate, cpu = await cpu_per_call(users, operations, call)
                print(f"  {label:<22} {rate:8.0f}/s   {cpu:7.1f} us CPU each")
            await store.flush()


async def _record(store: ConversationStore, t: Turn) -> None:
    await store.record(t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--operations", type=int, default=4000)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:  # the stock loop, as `tether serve` without uvicorn[standard]
        asyncio.run(run(args.concurrency, args.operations))
    else:
        uvloop.run(run(args.concurrency, args.operations))


if __name__ == "__main__":
    main()
