"""Batches on their way are settled in the order they were sent, whatever order Kafka
acknowledges them in; the responder polls on meanwhile, within a bound."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.errors import KafkaTimeoutError, RecordTooLargeError

from responder.batch import BatchResult
from responder.in_flight import SentBatch, SentBatches
from tests.support.responder_builders import request_record


def _batch(acks: list[asyncio.Future[Any]], records: int = 1) -> SentBatch:
    return SentBatch([request_record("c-1") for _ in range(records)], BatchResult(), acks)


class Settled:
    def __init__(self) -> None:
        self.order: list[tuple[SentBatch, BaseException | None]] = []

    async def __call__(self, batch: SentBatch, error: BaseException | None) -> None:
        self.order.append((batch, error))


async def test_a_batch_acknowledged_first_waits_for_the_one_sent_before_it() -> None:
    settled = Settled()
    batches = SentBatches(settled, ack_timeout_s=5.0)
    loop = asyncio.get_running_loop()
    slow, quick = loop.create_future(), loop.create_future()
    first, second = _batch([slow]), _batch([quick])

    await batches.add(first)  # returns at once: the responder polls on
    await batches.add(second)
    quick.set_result("ack")
    await asyncio.sleep(0.05)
    assert settled.order == []

    slow.set_result("ack")
    assert await batches.drain(1.0)
    assert settled.order == [(first, None), (second, None)]
    await batches.close()


async def test_a_failed_or_late_acknowledgement_settles_the_batch_with_its_error() -> None:
    settled = Settled()
    batches = SentBatches(settled, ack_timeout_s=0.1)
    failed = asyncio.get_running_loop().create_future()
    failed.set_exception(KafkaTimeoutError())
    never = asyncio.get_running_loop().create_future()

    await batches.add(_batch([failed]))
    await batches.add(_batch([never]))
    assert await batches.drain(1.0)

    assert [type(error) for _, error in settled.order] == [KafkaTimeoutError, TimeoutError]
    await batches.close()


async def test_a_message_kafka_refuses_as_too_large_is_dropped_not_failed() -> None:
    settled = Settled()
    dropped: list[BaseException] = []
    batches = SentBatches(settled, ack_timeout_s=1.0, on_oversized=dropped.append)
    refused = asyncio.get_running_loop().create_future()
    refused.set_exception(RecordTooLargeError())

    await batches.add(_batch([refused]))
    assert await batches.drain(1.0)

    assert [error for _, error in settled.order] == [None]
    assert len(dropped) == 1
    await batches.close()


async def test_beyond_the_bound_adding_waits_until_the_oldest_batch_is_settled() -> None:
    settled = Settled()
    batches = SentBatches(settled, ack_timeout_s=5.0, max_records=3)
    ack = asyncio.get_running_loop().create_future()
    await batches.add(_batch([ack], records=2))

    adding = asyncio.create_task(batches.add(_batch([], records=2)))
    await asyncio.sleep(0.05)
    assert not adding.done()

    ack.set_result("ack")
    await asyncio.wait_for(adding, 1.0)
    assert await batches.drain(1.0)
    assert len(settled.order) == 2
    await batches.close()
