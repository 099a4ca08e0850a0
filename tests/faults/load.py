"""A bounded load of concurrent conversation chains through the official openai SDK.

Every turn uses the `transcript` model, whose reply lists every message it was sent
(one `role: text` per line), so each answer proves that the whole chain was replayed.
Clients alternate streaming and plain turns; with several URLs each turn goes to the
next instance. Every failure is kept with its time, every acknowledged id recorded.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field

import httpx
import openai
from openai import OpenAI

Transcript = list[tuple[str, str]]
MODEL = "transcript"


def transcript_reply(history: Transcript, new: str) -> str:
    """What the `transcript` model answers after `history` when sent `new`."""
    return "\n".join(f"{role}: {text}" for role, text in [*history, ("user", new)])


def sdk_client(url: str, *, keepalive: bool = True, timeout: float = 15.0) -> OpenAI:
    """No retries: a failed request must show. Without keep-alive every request opens a
    new connection, so uvicorn workers take turns."""
    limits = httpx.Limits(max_keepalive_connections=None if keepalive else 0)
    http = httpx.Client(limits=limits, timeout=timeout)
    # This openai build annotates its own httpx fork; an httpx.Client works the same.
    return OpenAI(base_url=f"{url}/v1", api_key="sk-faults", max_retries=0, http_client=http)  # type: ignore[arg-type]


def create(client: OpenAI, *, stream: bool, text: str, previous: str | None) -> tuple[str, str]:
    """One turn; returns (id, output text) once the client has the whole response."""
    if not stream:
        response = client.responses.create(model=MODEL, input=text, previous_response_id=previous)
        return response.id, response.output_text
    events = client.responses.create(
        model=MODEL, input=text, previous_response_id=previous, stream=True
    )
    with events:
        for event in events:
            if event.type == "response.completed":
                return event.response.id, event.response.output_text
    raise AssertionError("the stream ended without response.completed")


@dataclass
class Chain:
    ids: list[str] = field(default_factory=list)
    history: Transcript = field(default_factory=list)


@dataclass(frozen=True)
class Request:
    started: float  # time.monotonic()
    seconds: float
    error: str | None


@dataclass
class Record:
    requests: list[Request] = field(default_factory=list)
    chains: list[Chain] = field(default_factory=list)

    @property
    def failures(self) -> list[Request]:
        return [request for request in self.requests if request.error is not None]

    @property
    def acknowledged(self) -> set[str]:
        return {response_id for chain in self.chains for response_id in chain.ids}


class ChainClient:
    """Runs chains of up to `turns` turns, one request at a time."""

    def __init__(self, name: str, urls: list[str], record: Record, *, turns: int, hop: bool):
        self._name = name
        self._clients = [sdk_client(url, keepalive=not hop) for url in urls]
        self._record = record
        self._turns = turns
        self._lock = threading.Lock()

    def run(self, stop: threading.Event) -> None:
        clients = itertools.cycle(self._clients)
        streaming = itertools.cycle([False, True])
        for number in itertools.count():
            chain = Chain()
            with self._lock:
                self._record.chains.append(chain)
            for turn in range(self._turns):
                if stop.is_set():
                    return
                self.turn(next(clients), chain, f"{self._name} c{number} t{turn}", next(streaming))

    def turn(self, client: OpenAI, chain: Chain, text: str, stream: bool) -> None:
        previous = chain.ids[-1] if chain.ids else None
        started = time.monotonic()
        error: str | None = None
        try:
            response_id, output = create(client, stream=stream, text=text, previous=previous)
        except (openai.OpenAIError, httpx.HTTPError, AssertionError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        else:
            expected = transcript_reply(chain.history, text)
            if output != expected:
                error = f"wrong history after {previous}: {output!r} != {expected!r}"
            chain.ids.append(response_id)  # acknowledged, whatever its text
            chain.history += [("user", text), ("assistant", output)]
        with self._lock:
            self._record.requests.append(Request(started, time.monotonic() - started, error))
        if error is not None:
            time.sleep(0.05)  # a failing server must not turn this into a busy loop

    def close(self) -> None:
        for client in self._clients:
            client.close()


class Load:
    """`with Load(urls, clients=4) as load:` runs until the block ends (at most `limit` s)."""

    def __init__(
        self, urls: list[str], *, clients: int = 4, turns: int = 6, hop: bool = False
    ) -> None:
        self.record = Record()
        self._stop = threading.Event()
        self._clients = [
            ChainClient(f"client{i}", urls, self.record, turns=turns, hop=hop)
            for i in range(clients)
        ]
        self._threads = [
            threading.Thread(target=client.run, args=(self._stop,), daemon=True)
            for client in self._clients
        ]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)
        for client in self._clients:
            client.close()
        assert not any(thread.is_alive() for thread in self._threads), "load did not stop"

    def requests_between(self, start: float, end: float) -> int:
        """Requests started in [start, end] that are finished (failed or not)."""
        return sum(1 for request in list(self.record.requests) if start <= request.started <= end)


def check_replays(url: str, chains: list[Chain]) -> list[str]:
    """Continue every chain once more; returns what did not replay exactly."""
    wrong: list[str] = []
    with sdk_client(url) as client:
        for chain in chains:
            if not chain.ids:
                continue
            try:
                _, output = create(client, stream=False, text="replay", previous=chain.ids[-1])
            except openai.OpenAIError as exc:
                wrong.append(f"{chain.ids[-1]}: {exc}")
                continue
            if output != transcript_reply(chain.history, "replay"):
                wrong.append(f"{chain.ids[-1]}: replayed {output!r}")
    return wrong


class Conversation:
    """One chain, turn by turn; each turn goes to the next URL and every other one streams.

    A turn that fails or replays the wrong history raises at once.
    """

    def __init__(self, urls: list[str], name: str = "conversation") -> None:
        self.chain = Chain()
        self._name = name
        self._clients = [sdk_client(url, keepalive=False) for url in urls]
        self._turn = 0

    def say(self, turns: int = 1) -> None:
        for _ in range(turns):
            client = self._clients[self._turn % len(self._clients)]
            text = f"{self._name} turn {self._turn}"
            previous = self.chain.ids[-1] if self.chain.ids else None
            stream = self._turn % 2 == 1
            response_id, output = create(client, stream=stream, text=text, previous=previous)
            assert output == transcript_reply(self.chain.history, text)
            self.chain.ids.append(response_id)
            self.chain.history += [("user", text), ("assistant", output)]
            self._turn += 1

    def close(self) -> None:
        for client in self._clients:
            client.close()

    def __enter__(self) -> Conversation:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
