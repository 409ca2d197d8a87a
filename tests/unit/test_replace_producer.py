"""replace_producer: a broken idempotent producer is swapped for a started new one, or kept
while no new one can start."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError

import journeys.kafka.clients as clients
from journeys.kafka import KafkaSettings, replace_producer


class FakeProducer:
    def __init__(self, start_error: Exception | None = None) -> None:
        self.start_error = start_error
        self.started = self.stopped = False

    async def start(self) -> None:
        if self.start_error is not None:
            raise self.start_error
        self.started = True

    async def stop(self) -> None:
        self.stopped = True


def _settings() -> KafkaSettings:
    return KafkaSettings(bootstrap_servers="127.0.0.1:9")


async def test_a_broken_producer_is_stopped_and_replaced_by_a_started_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    new = FakeProducer()
    monkeypatch.setattr(clients, "create_producer", lambda *_a, **_k: new)
    broken: Any = FakeProducer()

    replaced = await replace_producer(broken, _settings(), role="responder")
    await asyncio.gather(*clients._STOPPING)  # the broken one is stopped in the background

    assert replaced is new
    assert new.started
    assert broken.stopped


async def test_the_broken_producer_is_kept_while_no_new_one_can_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    new = FakeProducer(start_error=KafkaConnectionError("broker away"))
    monkeypatch.setattr(clients, "create_producer", lambda *_a, **_k: new)
    broken: Any = FakeProducer()

    kept = await replace_producer(broken, _settings(), role="responder")

    assert kept is broken
    assert not broken.stopped
    assert new.stopped  # the half-started client is closed, not leaked


class SlowStartProducer(FakeProducer):
    """Starts only when told: a broker that is slow to answer InitProducerId."""

    def __init__(self) -> None:
        super().__init__()
        self.starting = asyncio.Event()

    async def start(self) -> None:
        self.starting.set()
        await asyncio.sleep(3600)


async def test_a_caller_cancelled_while_the_new_producer_starts_leaks_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    new = SlowStartProducer()
    monkeypatch.setattr(clients, "create_producer", lambda *_a, **_k: new)
    broken: Any = FakeProducer()

    replacing = asyncio.create_task(replace_producer(broken, _settings(), role="gateway"))
    async with asyncio.timeout(5):
        await new.starting.wait()
    replacing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await replacing

    assert new.stopped  # the half-started client is closed, not leaked
    assert not broken.stopped  # the caller still holds it; its next failure tries again
