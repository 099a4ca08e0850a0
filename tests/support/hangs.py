"""A pytest plugin: a test that hangs on an await says where: after HANG_SECONDS every task's stack is
written to the test's stderr, which pytest shows when the timeout fails the test."""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import AsyncIterator

import pytest

HANG_SECONDS = 90.0  # before pytest-timeout's 120 s ends the test


@pytest.fixture
async def hang_report(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    async def watch() -> None:
        await asyncio.sleep(HANG_SECONDS)
        report = io.StringIO()
        report.write(f"\n{request.node.nodeid} still running after {HANG_SECONDS:g} s:\n")
        for task in asyncio.all_tasks():
            if task is not asyncio.current_task():
                task.print_stack(file=report)
        sys.stderr.write(report.getvalue())

    watcher = asyncio.create_task(watch(), name="hang-report")
    yield
    watcher.cancel()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every coroutine test gets the report."""
    for item in items:
        if isinstance(item, pytest.Function) and asyncio.iscoroutinefunction(item.obj):
            item.fixturenames.append("hang_report")
