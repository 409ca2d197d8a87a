"""The recycler's decisions, with a fake broker, fake clients and a fake clock."""

from __future__ import annotations

import signal

import pytest

from devstack.tansu_recycler import TansuRecycler, paused
from journeys.kafka import KafkaSettings


class FakeProcess:
    def __init__(self, log: list[str], name: str) -> None:
        self.log, self.name = log, name

    def signal(self, sig: signal.Signals) -> None:
        self.log.append(f"{self.name}:{sig.name}")

    def start(self) -> object:
        self.log.append(f"{self.name}:start")
        return self

    def stop(self, timeout: float = 10.0) -> int | None:
        self.log.append(f"{self.name}:stop")
        return 0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def log() -> list[str]:
    return []


def recycler(log: list[str], held: list[int], clock: Clock) -> TansuRecycler:
    r = TansuRecycler(
        FakeProcess(log, "broker"),
        KafkaSettings(),
        max_messages=100,
        check_interval_s=5.0,
        clients=[FakeProcess(log, "responder"), FakeProcess(log, "gateway")],
        on_restart=lambda line: log.append("said"),
        clock=clock,
    )

    async def largest() -> int:
        log.append("checked")
        return held.pop(0)

    async def recreate() -> None:
        log.append("topics")

    r.largest_partition = largest  # type: ignore[method-assign]
    r._recreate_topics = recreate  # type: ignore[method-assign]
    return r


def test_checks_only_when_due_and_restarts_only_past_the_limit(log: list[str]) -> None:
    clock = Clock()
    r = recycler(log, [99, 100], clock)

    r.tick()  # not due yet
    clock.now = 5.0
    r.tick()  # 99 < 100
    clock.now = 6.0
    r.tick()  # not due again until 10
    assert log == ["checked"]

    clock.now = 10.0
    r.tick()  # 100 >= 100: restart
    assert r.restarts == 1
    assert log[1:] == [
        "checked",
        "responder:SIGSTOP",
        "gateway:SIGSTOP",
        "broker:stop",
        "broker:start",
        "topics",  # created while the clients cannot race us to auto-create them
        "responder:SIGCONT",
        "gateway:SIGCONT",
        "said",
    ]


def test_paused_resumes_the_clients_when_the_restart_fails(log: list[str]) -> None:
    clients = [FakeProcess(log, "a"), FakeProcess(log, "b")]
    with pytest.raises(RuntimeError), paused(clients):
        raise RuntimeError("broker would not start")
    assert log == ["a:SIGSTOP", "b:SIGSTOP", "a:SIGCONT", "b:SIGCONT"]
