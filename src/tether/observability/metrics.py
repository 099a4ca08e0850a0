"""Prometheus metrics: request-level figures, and the store's counters mirrored in.

With `--workers N` the CLI sets `config.MULTIPROC_ENV` before anything imports
prometheus_client, so every worker's values land in shared files and /metrics sums them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from tether.state.store import StoreStats

_FAST = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
_SLOW = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

Read = Callable[[StoreStats], float]
# The store's counters, mirrored as Prometheus counters (monotonic) ...
STORE_COUNTERS: tuple[tuple[str, str, Read], ...] = (
    ("tether_cache_hits", "Chain lookups answered without the database", lambda s: s.hits),
    ("tether_cache_misses", "Chain lookups that needed the database", lambda s: s.misses),
    ("tether_cache_refills", "Cache refills from database rows", lambda s: s.refills),
    ("tether_records_written", "Turns recorded", lambda s: s.records_written),
    ("tether_writer_batches", "Durable writer batches committed", lambda s: s.writer_batches),
    ("tether_writer_rows", "Rows the durable writer inserted", lambda s: s.writer_rows),
    ("tether_writer_failures", "Durable writer batches that failed", lambda s: s.writer_failures),
    ("tether_records_dropped", "Pending records dropped (bound hit)", lambda s: s.local_copy_drops),
    ("tether_redis_errors", "Redis operations that failed", lambda s: s.cache_errors),
)
# ... and gauges (current values).
STORE_GAUGES: tuple[tuple[str, str, Read], ...] = (
    ("tether_writer_backlog", "Records waiting for the database", lambda s: s.writer_backlog),
    ("tether_cache_degraded", "1 while Redis is bypassed (breaker open)", lambda s: s.degraded),
)


class Metrics:
    def __init__(self, *, multiprocess: bool = False) -> None:
        self.multiprocess = multiprocess
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "tether_requests_total", "HTTP requests", ["route", "model", "status"], registry=r
        )
        self.request_seconds = Histogram(
            "tether_request_duration_seconds", "Whole request", ["route"], buckets=_SLOW, registry=r
        )
        self.upstream_seconds = Histogram(
            "tether_upstream_duration_seconds",
            "Upstream call",
            ["model"],
            buckets=_SLOW,
            registry=r,
        )
        self.overhead_seconds = Histogram(
            "tether_gateway_overhead_seconds",
            "Gateway's own time",
            ["route"],
            buckets=_FAST,
            registry=r,
        )
        self.ttft_seconds = Histogram(
            "tether_time_to_first_token_seconds", "Streaming", ["model"], buckets=_SLOW, registry=r
        )
        self.ws_open = Gauge(
            "tether_websocket_connections",
            "WebSocket connections open",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.ws_turns = Counter(
            "tether_websocket_turns_total", "WebSocket turns", ["model", "status"], registry=r
        )
        self.ws_errors = Counter(
            "tether_websocket_errors_total", "WebSocket error frames", ["code"], registry=r
        )
        self.ws_forgotten = Counter(
            "tether_websocket_forgotten_total",
            "store:false responses a connection forgot (its memory bound)",
            registry=r,
        )
        self._counters = [
            (Counter(name, doc, registry=r), read) for name, doc, read in STORE_COUNTERS
        ]
        self._gauges = [
            (Gauge(name, doc, registry=r, multiprocess_mode="livesum"), read)
            for name, doc, read in STORE_GAUGES
        ]
        self._seen: dict[int, float] = {}
        # Labelled children by metric and labels: prometheus_client's labels() takes a
        # lock and builds a key on every call; every label here has few values.
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def _child(self, metric: Counter | Histogram, *labels: str) -> Any:
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def request_done(self, route: str, model: str, status: int, seconds: float) -> None:
        """One HTTP request: counted by route, model and status; timed by route."""
        self._child(self.requests, route, model, str(status)).inc()
        self._child(self.request_seconds, route).observe(seconds)

    def turn_timed(self, model: str, overhead: float, upstream: float, *, stream: bool) -> None:
        """One turn's split: tether's own time, and the upstream's (to the first token)."""
        self._child(self.overhead_seconds, "responses").observe(overhead)
        self._child(self.ttft_seconds if stream else self.upstream_seconds, model).observe(upstream)

    def websocket_opened(self) -> None:
        self.ws_open.inc()

    def websocket_closed(self) -> None:
        self.ws_open.dec()

    def websocket_turn(self, model: str, status: int) -> None:
        self._child(self.ws_turns, model, str(status)).inc()

    def websocket_error(self, code: str) -> None:
        self._child(self.ws_errors, code).inc()

    def websocket_forgot(self, turns: int) -> None:
        if turns:
            self.ws_forgotten.inc(turns)

    def mirror(self, stats: StoreStats) -> None:
        """Bring the Prometheus values up to the store's counters (called periodically)."""
        for index, (counter, read) in enumerate(self._counters):
            value = float(read(stats))
            delta = value - self._seen.get(index, 0.0)
            if delta > 0:
                counter.inc(delta)
            self._seen[index] = value
        for gauge, read in self._gauges:
            gauge.set(float(read(stats)))

    def exposition(self) -> tuple[bytes, str]:
        if self.multiprocess:
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # untyped upstream
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
