"""A tiny test-only responder: answers each request on the partition the request names.

Behaviour by customer id: ``silent-*`` gets no reply (the gateway must answer 504);
``missing-*`` gets ``not_found``; anything else gets ``ok`` with two journeys. It records the
reply partition of every correlation id so tests can check where each reply went.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from journeys.contract import Header, JourneyReply, ReplyStatus, decode_request, encode
from journeys.kafka import KafkaSettings, create_consumer, create_producer


def demo_journey(customer_id: str, journey_id: str, priority: int) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "journey_id": journey_id,
        "campaign": "echo",
        "journey_name": f"Echo {journey_id}",
        "step": 0,
        "channel": "web",
        "content": {"title": f"Hello {customer_id}"},
        "status": "open",
        "priority": priority,
        "valid_from": "2025-01-01T00:00:00Z",
        "valid_to": None,
        "created_at": "2025-01-01T00:00:00Z",
        "updated_at": "2025-01-01T00:00:00Z",
        "closed_at": None,
        "attributes": {},
    }


class EchoResponder:
    """Consumes every partition of the requests topic (assigned) and replies."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self.kafka = kafka
        self.reply_partitions: dict[str, int] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._producer = create_producer(self.kafka, role="echo-responder")
        await self._producer.start()
        self._consumer = create_consumer(self.kafka, role="echo-responder")
        await self._consumer.start()
        self._consumer.assign(
            [TopicPartition(self.kafka.requests_topic, p) for p in range(self.kafka.partitions)]
        )
        self._task = asyncio.create_task(self._serve())

    async def _serve(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    await self._answer(record.value or b"", dict(record.headers or ()))

    async def _answer(self, value: bytes, headers: dict[str, bytes]) -> None:
        assert self._producer is not None
        request = decode_request(value)
        customer = request.customer_id
        if customer.startswith("silent-"):
            return
        if customer.startswith("missing-"):
            reply = JourneyReply(status=ReplyStatus.NOT_FOUND, customer_id=customer)
        else:
            journeys = [demo_journey(customer, "j-2", 2), demo_journey(customer, "j-1", 1)]
            reply = JourneyReply.model_validate(
                {"status": "ok", "customer_id": customer, "journeys": journeys}
            )
        partition = int(headers[Header.REPLY_PARTITION])
        correlation_id = headers[Header.CORRELATION_ID]
        self.reply_partitions[correlation_id.decode()] = partition
        await self._producer.send_and_wait(
            self.kafka.replies_topic,
            encode(reply),
            key=customer.encode(),
            partition=partition,
            headers=[
                (Header.CORRELATION_ID, correlation_id),
                (Header.TRACEPARENT, headers[Header.TRACEPARENT]),
                (Header.CONTRACT_VERSION, b"1"),
                *[(name, headers[name]) for name in (Header.REQUESTER_ID,) if name in headers],
            ],
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()
        if self._producer is not None:
            await self._producer.stop()
