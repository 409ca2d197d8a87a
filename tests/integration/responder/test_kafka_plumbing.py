"""Topic admin, client factories and the local broker, against the session's real broker."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from devstack import local_kafka
from journeys.kafka import (
    BrokerStartError,
    TopicSetupError,
    create_consumer,
    create_producer,
    ensure_topics,
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


def test_a_local_broker_on_a_busy_port_fails_with_a_clear_error(kafka_broker: KafkaBroker) -> None:
    broker = local_kafka(kafka_broker.port)
    with pytest.raises(BrokerStartError, match="already in use"), broker:
        pass


async def test_a_stopped_consumer_leaves_its_group_at_once(
    kafka_settings: KafkaSettingsFactory,
) -> None:
    # A responder without static membership hands its partitions on when it stops, not a
    # session timeout later.
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
    finally:
        await consumer.stop()
    assert await group_members(settings, group_id) == []
