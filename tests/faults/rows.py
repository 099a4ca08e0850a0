"""What the database holds: the ids of the stored responses."""

from __future__ import annotations

import asyncio
import time

import asyncpg


async def _ids(url: str) -> set[str]:
    connection = await asyncpg.connect(url, timeout=5)
    try:
        rows = await connection.fetch("SELECT id FROM responses")
    finally:
        await connection.close()
    return {row["id"] for row in rows}


def stored_ids(url: str) -> set[str]:
    """Ids in the `responses` table; empty when the table does not exist yet."""
    try:
        return asyncio.run(_ids(url))
    except asyncpg.UndefinedTableError:
        return set()


def missing_after(url: str, expected: set[str], timeout: float) -> set[str]:
    """Polls until every expected id is stored or `timeout` passes; returns those missing."""
    deadline = time.monotonic() + timeout
    while True:
        missing = expected - stored_ids(url)
        if not missing or time.monotonic() > deadline:
            return missing
        time.sleep(0.25)
