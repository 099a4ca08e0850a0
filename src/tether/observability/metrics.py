"""Prometheus metrics: request-level figures, and the store's counters mirrored in.

With `--workers N` the CLI sets PROMETHEUS_MULTIPROC_DIR before anything imports
prometheus_client, so every worker's values land in shared files and /metrics sums them.
"""

from __future__ import annotations

from collections.abc import Mapping
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

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_FAST = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
_SLOW = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

# The store's counters, mirrored as Prometheus counters (monotonic) ...
STORE_COUNTERS = {
    "hits": ("tether_cache_hits_total", "Chain lookups answered without the database"),
    "misses": ("tether_cache_misses_total", "Chain lookups that needed the database"),
    "db_fallbacks": ("tether_cache_db_fallbacks_total", "Database reads for chains"),
    "refills": ("tether_cache_refills_total", "Cache refills from database rows"),
    "records_written": ("tether_records_written_total", "Turns recorded"),
    "writer_batches": ("tether_writer_batches_total", "Durable writer batches committed"),
    "writer_rows": ("tether_writer_rows_total", "Rows the durable writer inserted"),
    "writer_failures": ("tether_writer_failures_total", "Durable writer batches that failed"),
    "local_copy_drops": ("tether_records_dropped_total", "Pending records dropped (bound hit)"),
    "cache_errors": ("tether_redis_errors_total", "Redis operations that failed"),
}
# ... and gauges (current values).
STORE_GAUGES = {
    "writer_backlog": ("tether_writer_backlog", "Records waiting for the database"),
    "degraded": ("tether_cache_degraded", "1 while Redis is bypassed (breaker open)"),
}


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
        self._counters = {
            key: Counter(name.removesuffix("_total"), doc, registry=r)
            for key, (name, doc) in STORE_COUNTERS.items()
        }
        self._gauges = {
            key: Gauge(name, doc, registry=r, multiprocess_mode="livesum")
            for key, (name, doc) in STORE_GAUGES.items()
        }
        self._seen: dict[str, float] = {}
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

    def mirror(self, stats: Mapping[str, float | int | bool]) -> None:
        """Bring the Prometheus values up to the store's counters (called periodically)."""
        for key, counter in self._counters.items():
            value = float(stats.get(key, 0))
            delta = value - self._seen.get(key, 0.0)
            if delta > 0:
                counter.inc(delta)
            self._seen[key] = value
        for key, gauge in self._gauges.items():
            gauge.set(float(stats.get(key, 0)))

    def exposition(self) -> tuple[bytes, str]:
        if self.multiprocess:
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # untyped upstream
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
