"""The responder answers the next batch while an earlier one's replies wait for their
acknowledgements, commits in order, and reads a failed batch again with all sent after it.

Before, each batch waited for every reply to be acknowledged before the next poll. After a
leader change of one gateway's reply partition its acknowledgements took 1 to 2.25 s, and both
responders stopped answering both gateways meanwhile (46 to 381 lookups answered 504 in the
three-broker rolling restart and the preferred-leader elections, tests/cluster).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.errors import KafkaTimeoutError
from aiokafka.structs import TopicPartition

from responder.batch import BatchResult
from responder.metrics import ResponderMetrics
from responder.replies import Outbound
from responder.service import Responder
from responder.settings import ResponderSettings
from tests.support.responder_builders import record, request_headers, request_value

REQUESTS = "journey.requests"
REPLIES = "journey.replies"


class Producer:
    """Sends whose acknowledgements come when the test says, per reply partition."""

    def __init__(self) -> None:
        self.acks: dict[int, list[asyncio.Future[Any]]] = {}

    async def send(self, topic: str, value: Any, **kwargs: Any) -> asyncio.Future[Any]:
        ack = asyncio.get_running_loop().create_future()
        self.acks.setdefault(kwargs["partition"], []).append(ack)
        return ack


class Consumer:
    def __init__(self) -> None:
        self.commits: list[dict[TopicPartition, int]] = []
        self.seeks: dict[TopicPartition, int] = {}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks[tp] = offset


class Handler:
    """One reply per record, to the reply partition the record's request partition names."""

    async def handle(self, records: Any) -> BatchResult:
        replies = [Outbound(REPLIES, record.partition, None, b"{}", []) for record in records]
        return BatchResult(replies=replies, consumed=len(records))


def _responder() -> tuple[Responder, Producer, Consumer]:
    settings = ResponderSettings(store={"token": "a-real-looking-token-4f9c1e"})
    responder = Responder(settings, store=None, metrics=ResponderMetrics())  # type: ignore[arg-type]
    producer, consumer = Producer(), Consumer()
    responder._producer = producer
    responder._consumer = consumer
    responder._handler = Handler()  # type: ignore[assignment]
    return responder, producer, consumer


def _records(partition: int, count: int = 2) -> list[Any]:
    return [
        record(request_value("c-1"), request_headers(), topic=REQUESTS, partition=partition)
        for _ in range(count)
    ]


async def test_a_batch_waiting_for_a_slow_reply_partition_holds_no_other_batch() -> None:
    responder, producer, consumer = _responder()
    slow, quick = _records(0), _records(1)

    await asyncio.wait_for(responder.process(slow), 1.0)  # reply partition 0: no ack yet
    await asyncio.wait_for(responder.process(quick), 1.0)  # answered meanwhile
    for ack in producer.acks[1]:
        ack.set_result("ack")
    await asyncio.sleep(0.05)
    assert consumer.commits == []  # in order: not before the batch sent first

    for ack in producer.acks[0]:
        ack.set_result("ack")
    await responder._settle_all()
    committed: dict[TopicPartition, int] = {}
    for offsets in consumer.commits:
        committed.update(offsets)
    assert committed == {
        TopicPartition(REQUESTS, 0): slow[-1].offset + 1,
        TopicPartition(REQUESTS, 1): quick[-1].offset + 1,
    }
    assert responder.batches == 2
    await responder._sent.close()


async def test_a_failed_batch_is_read_again_with_every_batch_sent_after_it() -> None:
    responder, producer, consumer = _responder()
    failing, after = _records(0), _records(1)
    await responder.process(failing)
    await responder.process(after)

    for ack in producer.acks[1]:
        ack.set_result("ack")  # acknowledged, but sent after the failure: read again
    for ack in producer.acks[0]:
        ack.set_exception(KafkaTimeoutError())
    await responder._settle_all()

    assert consumer.commits == []
    assert consumer.seeks == {
        TopicPartition(REQUESTS, 0): failing[0].offset,
        TopicPartition(REQUESTS, 1): after[0].offset,
    }
    assert responder._metrics.produce_failures._value.get() == 1
    await responder._sent.close()
