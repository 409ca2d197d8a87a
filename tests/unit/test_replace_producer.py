"""replace_producer: a broken idempotent producer is swapped for a started new one, or kept
while no new one can start."""

from __future__ import annotations

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
