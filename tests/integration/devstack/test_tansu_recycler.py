"""The Tansu fallback is restarted before it degrades, and clients carry on across the restart.

A real Tansu broker (the fallback ``journeys up`` runs without a JDK), a real aiokafka
producer started before the restart, and the recycler ``journeys up`` uses. That lookups keep
working across restarts (the gateway's reply reader, the responder's rejoin) is shown on the
whole stack in tests/e2e/test_journeys_up_tansu_restarts.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from devstack import TansuBroker
from devstack.tansu_recycler import TansuRecycler
from journeys.kafka import KafkaSettings, ensure_topics

pytestmark = pytest.mark.integration


@pytest.fixture
def tansu(tmp_path: Path) -> Iterator[TansuBroker]:
    with TansuBroker(log_path=tmp_path / "tansu.log") as broker:
        yield broker


@pytest.fixture
def kafka(tansu: TansuBroker) -> KafkaSettings:
    settings = KafkaSettings(
        bootstrap_servers=tansu.bootstrap_servers, profile="embedded", partitions=2
    )
    asyncio.run(ensure_topics(settings))
    return settings


async def _send(producer: AIOKafkaProducer, topic: str, count: int) -> None:
    async with asyncio.timeout(30):
        for i in range(count):
            await producer.send_and_wait(topic, f"m{i}".encode(), partition=0)


def test_below_the_limit_the_broker_keeps_running(tansu: TansuBroker, kafka: KafkaSettings) -> None:
    recycler = TansuRecycler(tansu, kafka, max_messages=50, check_interval_s=0)
    pid = tansu.pid

    async def fill() -> None:
        producer = AIOKafkaProducer(**kafka.connection_kwargs())
        await producer.start()
        try:
            await _send(producer, kafka.replies_topic, 10)
        finally:
            await producer.stop()

    asyncio.run(fill())
    recycler.tick()

    assert recycler.restarts == 0
    assert tansu.pid == pid
    assert asyncio.run(recycler.largest_partition()) == 10


def test_past_the_limit_it_restarts_empty_with_our_topics_and_a_producer_carries_on(
    tansu: TansuBroker, kafka: KafkaSettings
) -> None:
    events: list[str] = []
    recycler = TansuRecycler(
        tansu, kafka, max_messages=20, check_interval_s=0, on_restart=events.append
    )
    topic = kafka.replies_topic
    old_pid = tansu.pid

    async def scenario() -> None:
        producer = AIOKafkaProducer(**kafka.connection_kwargs())
        await producer.start()
        try:
            await _send(producer, topic, 25)
            await asyncio.to_thread(recycler.tick)  # 25 >= 20: restart, topics recreated
            await _send(producer, topic, 3)  # the same producer, on the new broker
        finally:
            await producer.stop()

    asyncio.run(scenario())

    assert recycler.restarts == 1
    assert tansu.pid != old_pid
    assert len(events) == 1
    assert "25 messages" in events[0]
    # The old messages are gone; the three sent after the restart are there.
    assert asyncio.run(recycler.largest_partition()) == 3
    # Our topics exist again with the configured partitions (nothing left to create).
    assert asyncio.run(ensure_topics(kafka)) == []
