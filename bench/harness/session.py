"""One bench invocation's processes and services, every one released when the session ends.

with Session(options) as session:
    with session.tether(run=1, redis=True) as stage:
        ...
"""

from __future__ import annotations

import argparse
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import TypeVar

from harness.processes import Child, Driver, Tether, start_upstream
from harness.scenarios import Budgets, Stage, tether_config
from harness.services import clear_tether_keys, create_database, drop_database

C = TypeVar("C", bound=Child)
DEFAULT_REDIS = "redis://127.0.0.1:6379/9"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def add_service_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--redis-url", default=DEFAULT_REDIS, help="a Redis database for tether alone"
    )
    parser.add_argument(
        "--postgres-url", default=DEFAULT_POSTGRES, help="a fresh database is made next to it"
    )
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs")


@dataclass(frozen=True, slots=True)
class Options:
    redis_url: str
    postgres_url: str
    log_level: str
    keep_logs: bool
    budgets: Budgets

    @classmethod
    def of(cls, args: argparse.Namespace, budgets: Budgets) -> Options:
        return cls(args.redis_url, args.postgres_url, args.log_level, args.keep_logs, budgets)


def stop_on_sigterm() -> None:
    def handler(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)  # unwinds through every `finally`, which stops children

    signal.signal(signal.SIGTERM, handler)


class Session:
    """The fake upstream and the load driver for the whole session; tethers one at a time."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self._stack = ExitStack()

    def __enter__(self) -> Session:
        stack, options = self._stack.__enter__(), self.options
        try:
            self.workdir = Path(tempfile.mkdtemp(prefix="tether-bench-"))
            if options.keep_logs:
                print(f"logs: {self.workdir}")
            else:
                stack.callback(shutil.rmtree, self.workdir, ignore_errors=True)
            clear_tether_keys(options.redis_url)
            stack.callback(clear_tether_keys, options.redis_url)
            upstream, self.upstream_port = start_upstream(self.workdir)
            self.upstream = self._own(upstream)
            self.driver = self._own(Driver(self.workdir))
        except BaseException:
            stack.close()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stack.__exit__(kind, exc, tb)

    def _own(self, child: C) -> C:
        self._stack.callback(child.stop)
        return child

    @contextmanager
    def tether(self, run: int, *, redis: bool, workers: int = 1) -> Iterator[Stage]:
        """A tether on a fresh PostgreSQL database (and Redis, or not); removed afterwards."""
        options = self.options
        database = create_database(options.postgres_url)
        config = tether_config(self.upstream_port, database, options.redis_url if redis else None)
        try:
            server = Tether(config, self.workdir, workers, options.log_level)
            try:
                server.wait_ready()
                yield Stage(
                    run, self.driver, self.upstream, self.upstream_port, server, options.budgets
                )
            finally:
                server.stop()
        finally:
            drop_database(database)
            clear_tether_keys(options.redis_url)
