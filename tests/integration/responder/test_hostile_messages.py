"""Hostile request records against the real broker and store: the partition always moves on."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.structs import TopicPartition

from journeys.contract import Header, ReplyStatus, decode_reply
from journeys.kafka import KafkaSettings, create_consumer, producer_kwargs
from responder import ResponderSettings
from tests.integration.responder.test_responder_loop import seed
from tests.support.journey_rows import journey_row
from tests.support.responder_builders import (
    ReplyReader,
    request_headers,
    request_value,
    unique_customer,
)
from tests.support.running_responder import running_responder
from tests.support.store_fixtures import StoreServer

pytestmark = pytest.mark.integration

SettingsFactory = Callable[..., ResponderSettings]
POISON_BYTES = 3 * 1024 * 1024


async def wait_for_commit(kafka: KafkaSettings, group_id: str, partition: int, offset: int) -> int:
    """The group's committed offset of ``partition`` once it reached ``offset`` (60 s at most)."""
    # A consumer that never subscribes only reads the group's committed offsets.
    reader = create_consumer(kafka, role="test-offsets", group_id=group_id)
    tp = TopicPartition(kafka.requests_topic, partition)
    async with reader, asyncio.timeout(60):
        while True:
            committed: int | None = await reader.committed(tp)
            if committed is not None and committed >= offset:
                return committed
            await asyncio.sleep(0.2)


async def test_an_oversized_poison_message_is_dead_lettered_and_the_partition_moves_on(
    responder_settings: SettingsFactory, store_server: StoreServer
) -> None:
    customer = unique_customer()
    seed(store_server, [journey_row(customer, "j-1")])
    settings = responder_settings()
    kafka = settings.kafka
    # A few KB on the wire (gzip of a repeated block), megabytes once the responder reads it:
    # its dead-letter copy, made whole, would exceed the producer's 1 MiB request limit.
    junk = os.urandom(1024) * (POISON_BYTES // 1024)
    attacker = AIOKafkaProducer(
        **producer_kwargs(kafka, role="test-attacker"),
        compression_type="gzip",
        max_request_size=8 * POISON_BYTES,
    )
    async with running_responder(settings), attacker:
        poison = await attacker.send_and_wait(
            kafka.requests_topic, junk, partition=0, headers=request_headers("c-poison")
        )
        after = [
            await attacker.send_and_wait(
                kafka.requests_topic,
                request_value(customer),
                key=customer.encode(),
                partition=0,
                headers=request_headers(f"c-after-{n}", reply_partition=1),
            )
            for n in range(3)
        ]
        async with ReplyReader(kafka, kafka.replies_topic, [0, 1]) as replies:
            answered = await replies.wait_for(["c-poison", "c-after-0", "c-after-1", "c-after-2"])
        async with ReplyReader(kafka, kafka.dlq_topic, range(kafka.partitions)) as dlq:
            dead = (await dlq.wait_for(["c-poison"]))["c-poison"]
        await wait_for_commit(kafka, settings.group_id, 0, after[-1].offset + 1)
    assert poison.offset < after[0].offset
    assert decode_reply(answered["c-poison"].value or b"").status is ReplyStatus.INVALID
    for n in range(3):
        assert decode_reply(answered[f"c-after-{n}"].value or b"").status is ReplyStatus.OK
    headers = dict(dead.headers)
    assert headers[Header.TRUNCATED] == b"true"
    assert int(headers[Header.ORIGINAL_SIZE]) > POISON_BYTES
    assert b"over 4096" in headers[Header.REASON]
    assert len(dead.value or b"") <= settings.max_dead_letter_bytes
    assert junk.startswith(dead.value or b"")
