"""The Tansu fallback is restarted before it degrades, and clients carry on across the restart.

A real Tansu broker (the fallback ``journeys up`` runs without a JDK), real aiokafka clients
started before the restart, and the recycler ``journeys up`` uses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from journeys.devstack import TansuBroker
from journeys.devstack.tansu_recycler import TansuRecycler
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


def test_below_the_limit_the_broker_keeps_running(
    tansu: TansuBroker, kafka: KafkaSettings
) -> None:
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


def test_past_the_limit_it_restarts_empty_and_clients_started_before_carry_on(
    tansu: TansuBroker, kafka: KafkaSettings
) -> None:
    events: list[str] = []
    recycler = TansuRecycler(
        tansu, kafka, max_messages=20, check_interval_s=0, on_restart=events.append
    )
    topic = kafka.replies_topic
    old_pid = tansu.pid

    async def scenario() -> list[bytes]:
        producer = AIOKafkaProducer(**kafka.connection_kwargs())
        reader = AIOKafkaConsumer(**kafka.connection_kwargs(), auto_offset_reset="earliest")
        await producer.start()
        await reader.start()
        try:
            await reader._client.fetch_all_metadata()
            reader.assign([TopicPartition(topic, 0)])
            await _send(producer, topic, 25)
            await reader.seek_to_end(TopicPartition(topic, 0))
            assert await reader.position(TopicPartition(topic, 0)) == 25

            await asyncio.to_thread(recycler.tick)  # 25 >= 20: restart, topics recreated

            # The same producer and the same reader, positioned at 25 on the old log.
            await _send(producer, topic, 3)
            received: list[bytes] = []
            async with asyncio.timeout(30):
                while len(received) < 3:
                    batches = await reader.getmany(timeout_ms=500)
                    received += [r.value or b"" for rs in batches.values() for r in rs]
            return received
        finally:
            await reader.stop()
            await producer.stop()

    received = asyncio.run(scenario())

    assert recycler.restarts == 1
    assert tansu.pid != old_pid
    assert len(events) == 1 and "25 messages" in events[0]
    # Every message sent after the restart reaches the reader, from the new log's start.
    assert received == [b"m0", b"m1", b"m2"]
    assert asyncio.run(recycler.largest_partition()) == 3
