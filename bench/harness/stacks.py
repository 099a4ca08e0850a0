"""Reading py-spy's collapsed stacks (`--format raw --nolineno`): where the CPU samples fall."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

# Libraries by the first part of a frame's path; the leaf frame's library gets the sample.
_CLIENT = "upstream HTTP client (httpx or aiohttp and their helpers)"
_COMPONENTS = {
    **dict.fromkeys(("httpx", "httpcore", "anyio", "h11", "sniffio"), _CLIENT),
    **dict.fromkeys(("aiohttp", "yarl", "multidict", "aiohappyeyeballs", "aiosignal"), _CLIENT),
    "starlette": "starlette",
    "uvicorn": "uvicorn",
    "redis": "redis-py",
    "sqlalchemy": "sqlalchemy/asyncpg",
    "asyncpg": "sqlalchemy/asyncpg",
    "pydantic": "pydantic",
    "pydantic_core": "pydantic",
    "logging": "logging",
    "prometheus_client": "prometheus_client",
    "asyncio": "asyncio/uvloop",
    "uvloop": "asyncio/uvloop",
    "selectors": "asyncio/uvloop",
}


def frame_path(frame: str) -> str:
    """`create_response (tether/api/responses.py)` → `tether/api/responses.py`."""
    start = frame.rfind(" (")
    return frame[start + 2 : -1] if start >= 0 and frame.endswith(")") else ""


def component(frame: str) -> str:
    path = frame_path(frame)
    head = path.split("/", 1)[0]
    if head == "tether":
        parts = path.split("/")
        return f"tether/{parts[1]}" if len(parts) > 2 else f"tether/{parts[1].removesuffix('.py')}"
    return _COMPONENTS.get(head, "other")


@dataclass(slots=True)
class Profile:
    samples: int = 0
    own: Counter[str] = field(default_factory=Counter)  # leaf frame
    inclusive: Counter[str] = field(default_factory=Counter)  # anywhere on the stack
    by_component: Counter[str] = field(default_factory=Counter)  # the leaf's library

    @classmethod
    def read(cls, path: Path) -> Profile:
        profile = cls()
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            profile.add(stack.split(";"), int(count))
        return profile

    def add(self, frames: list[str], count: int) -> None:
        self.samples += count
        self.own[frames[-1]] += count
        self.by_component[component(frames[-1])] += count
        for frame in set(frames):
            self.inclusive[frame] += count

    def share(self, count: int) -> float:
        return 100.0 * count / self.samples if self.samples else 0.0


def _rows(profile: Profile, counts: list[tuple[str, int]]) -> list[str]:
    return [f"| {profile.share(n):5.1f}% | `{name}` |" for name, n in counts]


def markdown(profile: Profile, title: str, context: list[str], top: int = 25) -> str:
    tether_frames = [
        (name, n)
        for name, n in profile.inclusive.most_common()
        if frame_path(name).startswith("tether/")
    ][:top]
    lines = [
        f"# {title}",
        "",
        *[f"- {line}" for line in context],
        f"- {profile.samples} CPU samples (idle time not sampled); a share is of all of them.",
        "",
        "## By library (the sampled frame's; C code counts for its Python caller)",
        "",
        "| share | library |",
        "|---|---|",
        *_rows(profile, profile.by_component.most_common()),
        "",
        "## tether's own functions, inclusive (time in them and everything they call)",
        "",
        "| share | function |",
        "|---|---|",
        *_rows(profile, tether_frames),
        "",
        "## Hottest frames, self time",
        "",
        "| share | function |",
        "|---|---|",
        *_rows(profile, profile.own.most_common(top)),
        "",
    ]
    return "\n".join(lines)
