"""PNG charts of the median results (matplotlib, no display)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after choosing the backend
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from harness.compare import Comparison
from harness.summary import Throughput

DIRECT, TETHER = "#8c8c8c", "#1f77b4"


def _label(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _bars(ax: Axes, labels: Sequence[str], series: dict[str, tuple[list[float], str]]) -> None:
    width = 0.8 / max(len(series), 1)
    for i, (name, (values, color)) in enumerate(series.items()):
        xs = [x + (i - (len(series) - 1) / 2) * width for x in range(len(labels))]
        bars = ax.bar(xs, values, width, label=name, color=color)
        ax.bar_label(bars, fmt=_label, fontsize=7, padding=1)
    ax.set_xticks(range(len(labels)), labels)
    ax.margins(y=0.15)
    ax.legend(fontsize=8, loc="upper left", framealpha=0.9)
    ax.grid(axis="y", alpha=0.3)


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _latency_pair(ax: Axes, rows: list[Comparison], title: str, p99: bool) -> None:
    labels = [r.case for r in rows]
    if p99:
        direct, tether = [r.direct_p99_ms for r in rows], [r.tether_p99_ms for r in rows]
    else:
        direct, tether = [r.direct_p50_ms for r in rows], [r.tether_p50_ms for r in rows]
    _bars(ax, labels, {"direct": (direct, DIRECT), "tether": (tether, TETHER)})
    ax.set_title(title, fontsize=10)
    ax.set_ylabel("ms")
    ax.set_yscale("log")


def overhead(rows: list[Comparison], path: Path) -> Path:
    scenarios = [
        ("fresh", "fresh turns"),
        ("chain-redis", "10-turn chains, Redis"),
        ("chain-database", "10-turn chains, PostgreSQL only"),
    ]
    fig, axes = plt.subplots(2, len(scenarios), figsize=(13, 7), squeeze=False)
    for col, (scenario, title) in enumerate(scenarios):
        chosen = [r for r in rows if r.scenario == scenario]
        _latency_pair(axes[0][col], chosen, f"{title}: p50 latency", p99=False)
        _latency_pair(axes[1][col], chosen, f"{title}: p99 latency", p99=True)
    fig.suptitle("Latency through tether vs straight to the upstream (log scale)")
    return _save(fig, path)


def prompt_size(rows: list[Comparison], path: Path) -> Path:
    chosen = [r for r in rows if r.scenario == "prompt"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), squeeze=False)
    _latency_pair(axes[0][0], chosen, "prompt size: p50 latency (c=1)", p99=False)
    _latency_pair(axes[0][1], chosen, "prompt size: p99 latency (c=1)", p99=True)
    return _save(fig, path)


def streaming(rows: list[Comparison], path: Path) -> Path:
    chosen = [r for r in rows if r.scenario == "stream"]
    labels = [r.case for r in chosen]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), squeeze=False)
    ttft = {
        "direct": ([r.ttft_direct_p50_ms for r in chosen], DIRECT),
        "tether": ([r.ttft_tether_p50_ms for r in chosen], TETHER),
    }
    _bars(axes[0][0], labels, ttft)
    axes[0][0].set_title("time to first text delta, p50 (ms)", fontsize=10)
    gaps = {
        "direct": ([r.gap_direct_p99_ms for r in chosen], DIRECT),
        "tether": ([r.gap_tether_p99_ms for r in chosen], TETHER),
    }
    _bars(axes[0][1], labels, gaps)
    axes[0][1].set_title("gap between text deltas, p99 (ms)", fontsize=10)
    return _save(fig, path)


def throughput(rows: list[Throughput], path: Path, goal: float = 1500.0) -> Path:
    tether = sorted(
        (r for r in rows if r.target == "tether"), key=lambda r: (r.workers, r.concurrency)
    )
    direct = {
        (r.workers, r.concurrency): r.lookup_turns_per_s for r in rows if r.target == "direct"
    }
    labels = [f"{r.workers}w c={r.concurrency}" for r in tether]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), squeeze=False)
    series = {
        "tether": ([r.lookup_turns_per_s for r in tether], TETHER),
        "direct (driver ceiling)": (
            [direct.get((r.workers, r.concurrency), 0.0) for r in tether],
            DIRECT,
        ),
    }
    _bars(axes[0][0], labels, series)
    axes[0][0].axhline(goal, color="#d62728", linestyle="--", linewidth=1)
    axes[0][0].set_yscale("log")
    axes[0][0].set_title(f"chain continuations/s (log; dashed: target {goal:.0f})", fontsize=10)
    cpu = {"tether CPU ms/turn": ([r.tether_cpu_ms_per_turn for r in tether], TETHER)}
    _bars(axes[0][1], labels, cpu)
    axes[0][1].set_title("tether CPU per turn (ms)", fontsize=10)
    return _save(fig, path)


def draw_all(compared: list[Comparison], rows: list[Throughput], out: Path) -> list[Path]:
    return [
        overhead(compared, out / "overhead.png"),
        streaming(compared, out / "streaming.png"),
        prompt_size(compared, out / "prompt_size.png"),
        throughput(rows, out / "throughput.png"),
    ]
