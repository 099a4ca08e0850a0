"""Readiness: what each part of the state layer says, and whether tether can serve."""

from __future__ import annotations

from typing import Any

from tether.state.store import ConversationStore


async def readiness(store: ConversationStore, redis_configured: bool) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body). 503 only when no store at all can take a turn."""
    parts = await store.readiness()
    cache, database = parts["cache"], parts["database"]
    redis: dict[str, Any] = {"status": "not_configured"}
    if redis_configured:
        healthy = cache["status"] == "ok" and not cache["degraded"]
        redis = {
            "status": "ok" if healthy else "degraded",
            "latency_ms": cache["latency_ms"],
            "persistence": cache["persistence"],
        }
        if not healthy:
            redis["error"] = "unreachable; reads and writes go to the database"
    db = {
        "status": "ok" if database["status"] == "ok" else "down",
        "dialect": database["dialect"],
        "latency_ms": database["latency_ms"],
        "migration": database["migration"],
    }
    can_write = db["status"] == "ok" or redis["status"] == "ok"
    status = "ok" if redis["status"] != "degraded" and db["status"] == "ok" else "degraded"
    body = {
        "status": status if can_write else "unavailable",
        "redis": redis,
        "database": db,
        "writer": parts["writer"],
    }
    return (200 if can_write else 503), body
