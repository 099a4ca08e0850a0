"""What the results were measured on: CPU, memory, kernel, versions, tether's commit."""

from __future__ import annotations

import asyncio
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import asyncpg
import redis

PACKAGES = ("starlette", "uvicorn", "httpx", "orjson", "pydantic", "redis", "sqlalchemy", "asyncpg")


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return 0.0


def _commit(root: Path) -> str:
    """Read-only git queries: the commit, and whether src/ has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} (src/ has uncommitted changes)" if dirty else head


def _versions() -> str:
    found = []
    for name in PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def _servers(redis_url: str, postgres_url: str) -> str:
    client = redis.Redis.from_url(redis_url)
    try:
        redis_version = str(client.info("server")["redis_version"])
    finally:
        client.close()

    async def pg() -> str:
        connection = await asyncpg.connect(postgres_url)
        try:
            return str(await connection.fetchval("SHOW server_version"))
        finally:
            await connection.close()

    return f"Redis {redis_version}, PostgreSQL {asyncio.run(pg())}"


def load() -> str:
    """The load average when the run started: other work on the machine skews every figure."""
    one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    return f"load average at start: {one} / {five} / {fifteen} (1 / 5 / 15 min)"


def describe(root: Path, redis_url: str, postgres_url: str) -> list[str]:
    return [
        f"machine: {_cpu_model()}, {os.cpu_count()} cores, {_memory_gib():.0f} GiB, "
        f"Linux {platform.release()}",
        f"software: Python {platform.python_version()}; {_versions()}; "
        f"{_servers(redis_url, postgres_url)}",
        f"tether commit: {_commit(root)}",
    ]
