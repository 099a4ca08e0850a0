"""Recent latencies of the state layer's two hot operations, for the statistics endpoint."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

WINDOW = 4096  # the latest samples; old ones fall out


@dataclass(slots=True)
class LatencyWindow:
    samples: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))
    count: int = 0

    def add(self, seconds: float) -> None:
        self.samples.append(seconds)
        self.count += 1

    def summary(self) -> dict[str, float | int | None]:
        """p50 / p99 / max in milliseconds over the window, and the all-time count."""
        ordered = sorted(self.samples)
        if not ordered:
            return {"count": 0, "p50": None, "p99": None, "max": None}

        def at(q: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)

        return {"count": self.count, "p50": at(0.5), "p99": at(0.99), "max": at(1.0)}


@dataclass(slots=True)
class StateLatencies:
    chain_lookup: LatencyWindow = field(default_factory=LatencyWindow)
    record: LatencyWindow = field(default_factory=LatencyWindow)

    def summary(self) -> dict[str, dict[str, float | int | None]]:
        return {"chain_lookup": self.chain_lookup.summary(), "record": self.record.summary()}
