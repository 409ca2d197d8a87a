"""Topic admin, client factories and the local brokers, against the session's real broker."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from devstack import TansuBroker, choose_broker, metadata_probe
from journeys.kafka import (
    BrokerStartError,
    TopicSetupError,
    create_consumer,
    create_producer,
    ensure_topics,
    leave_group,
)
from tests.support.kafka_fixtures import KafkaBroker, KafkaSettingsFactory, group_members

pytestmark = pytest.mark.integration


async def test_ensure_topics_creates_the_three_topics_once(
    kafka_settings: KafkaSettingsFactory,
) -> None:
    settings = kafka_settings(partitions=3)
    created = await ensure_topics(settings)
    assert created == [settings.requests_topic, settings.replies_topic, settings.dlq_topic]
    assert await ensure_topics(settings) == []
    admin = AIOKafkaAdminClient(**settings.connection_kwargs())
    await admin.start()
    try:
        described = await admin.describe_topics(list(created))
    finally:
        await admin.close()
    assert {d["topic"]: len(d["partitions"]) for d in described} == dict.fromkeys(created, 3)


async def test_ensure_topics_refuses_existing_topics_with_too_few_partitions(
    kafka_settings: KafkaSettingsFactory,
) -> None:
    settings = kafka_settings(partitions=2)
    await ensure_topics(settings)
    with pytest.raises(TopicSetupError, match="has 2 partitions, 4 are configured"):
        await ensure_topics(settings.model_copy(update={"partitions": 4}))


async def test_ensure_topics_on_an_unreachable_broker_raises_topic_setup_error(
    kafka_settings: KafkaSettingsFactory,
) -> None:
    from tests.support.processes import free_port

    settings = kafka_settings(bootstrap_servers=f"127.0.0.1:{free_port()}")
    with pytest.raises(TopicSetupError, match="cannot set up topics"):
        await ensure_topics(settings)


async def test_factory_clients_produce_with_headers_to_a_chosen_partition(
    kafka_settings: KafkaSettingsFactory,
) -> None:
    settings = kafka_settings(partitions=4, producer_acks="all")
    await ensure_topics(settings)
    async with create_producer(settings, role="test") as producer:
        sent = await producer.send_and_wait(
            settings.replies_topic, b"v", key=b"k", partition=2, headers=[("h", b"x")]
        )
    assert sent.partition == 2
    tp = TopicPartition(settings.replies_topic, 2)
    async with create_consumer(settings, role="test") as consumer:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        batches = await consumer.getmany(tp, timeout_ms=5_000)
    [message] = batches[tp]
    assert (message.key, message.value, tuple(message.headers)) == (b"k", b"v", (("h", b"x"),))


def test_the_tansu_fallback_starts_answers_metadata_and_stops() -> None:
    broker = TansuBroker()
    with broker:
        assert broker.running()
        assert metadata_probe(broker.host, broker.port)
    assert not broker.running()
    assert not metadata_probe(broker.host, broker.port)


@pytest.mark.parametrize("kind", ["apache", "tansu"])
def test_a_local_broker_on_a_busy_port_fails_with_a_clear_error(
    kafka_broker: KafkaBroker, kind: str
) -> None:
    if kind == "apache" and kafka_broker.kind != "apache":
        pytest.skip("no JDK or Apache Kafka jars here (the session runs Tansu)")
    broker = choose_broker(kind, kafka_broker.port).broker  # type: ignore[arg-type]
    with pytest.raises(BrokerStartError, match="already in use"), broker:
        pass


async def test_leave_group_leaves_a_first_generation_group_at_once(
    kafka_settings: KafkaSettingsFactory,
) -> None:
    # Tansu numbers generations from 0 and aiokafka's stop() skips LeaveGroup at 0.
    settings = kafka_settings(partitions=2)
    await ensure_topics(settings)
    group_id = f"leave-{uuid.uuid4().hex[:8]}"
    consumer = create_consumer(settings, settings.requests_topic, role="test", group_id=group_id)
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            while not consumer.assignment():
                await consumer.getmany(timeout_ms=100)
        assert len(await group_members(settings, group_id)) == 1
        await leave_group(consumer)
    finally:
        await consumer.stop()
    assert await group_members(settings, group_id) == []
