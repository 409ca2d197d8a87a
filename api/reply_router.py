"""Reply routing: this gateway's partition of the replies topic → the request awaiting it.

Each gateway instance owns exactly ONE partition of ``journey.replies`` (``reply_partition`` in
its settings). It is *assigned*, not group-managed: no rebalances can move it and no other
instance reads it. At start the consumer seeks to the end (earlier replies belong to a previous
life of this instance) and resolves the position before the gateway reports ready, so no reply
to a request sent after start-up can be skipped.

:class:`ReplyRouter` keeps ``correlation id → asyncio.Future``. A reply nobody waits for is
dropped and counted, never raised: ``late`` (its request already gave up), ``duplicate`` (its
request was already answered: at-least-once delivery), ``unknown`` (never sent by this instance)
or ``uncorrelated`` (no correlation-id header). The router remembers a bounded number of finished
correlation ids to tell late and duplicate from unknown.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from api.errors import KafkaUnavailable
from journeys.contract import Header
from journeys.kafka import KafkaSettings, create_consumer

log = logging.getLogger(__name__)

#: How many finished correlation ids are remembered to classify late and duplicate replies.
RECENT_CAPACITY: Final = 65_536
_CORRELATION_HEADER: Final = Header.CORRELATION_ID
_HEDGE_HEADER: Final = Header.HEDGE


def _ignore(outcome: str) -> None:
    del outcome


class ReplyRouter:
    """Matches replies to waiting requests by correlation id."""

    def __init__(
        self,
        on_reply: Callable[[str], None] = _ignore,
        recent_capacity: int = RECENT_CAPACITY,
    ) -> None:
        self._pending: dict[str, asyncio.Future[bytes]] = {}
        self._recent: OrderedDict[str, bool] = OrderedDict()  # id → was it answered?
        self._recent_capacity = recent_capacity
        self._on_reply = on_reply
        self._won_by_hedge: set[str] = set()  # pending ids whose reply answered a hedge copy

    @property
    def pending(self) -> int:
        """Requests awaiting a reply."""
        return len(self._pending)

    def expect(self, correlation_id: str) -> asyncio.Future[bytes]:
        """Register a request before it is sent; its reply value will resolve the future."""
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending[correlation_id] = future
        return future

    def forget(self, correlation_id: str) -> None:
        """The request is finished (answered or given up); later replies to it are dropped."""
        future = self._pending.pop(correlation_id, None)
        self._won_by_hedge.discard(correlation_id)
        if future is None:
            return
        answered = future.done() and not future.cancelled()
        if not future.done():
            future.cancel()
        self._recent[correlation_id] = answered
        if len(self._recent) > self._recent_capacity:
            self._recent.popitem(last=False)

    def answered_by_hedge(self, correlation_id: str) -> bool:
        """True when the reply that answered this pending request was to its hedge copy."""
        return correlation_id in self._won_by_hedge

    def deliver(self, correlation_id: str | None, value: bytes, *, hedge: bool = False) -> str:
        """Hand one reply to its request; returns the outcome (``matched`` or a drop reason).

        ``hedge``: the reply carries the ``hedge`` header, i.e. it answers the hedge copy.
        """
        outcome = self._route(correlation_id, value)
        if outcome == "matched" and hedge and correlation_id is not None:
            self._won_by_hedge.add(correlation_id)
        self._on_reply(outcome)
        if outcome != "matched":
            log.debug("dropped %s reply correlation_id=%s", outcome, correlation_id)
        return outcome

    def _route(self, correlation_id: str | None, value: bytes) -> str:
        if correlation_id is None:
            return "uncorrelated"
        future = self._pending.get(correlation_id)
        if future is not None:
            if future.cancelled():
                return "late"
            if future.done():
                return "duplicate"
            future.set_result(value)
            return "matched"
        answered = self._recent.get(correlation_id)
        if answered is None:
            return "unknown"
        return "duplicate" if answered else "late"

    def cancel_all(self) -> None:
        """Give up every waiting request (shutdown)."""
        for correlation_id in list(self._pending):
            self.forget(correlation_id)


def is_hedge_reply(headers: Any) -> bool:
    """True when a consumed reply carries the ``hedge`` header (it answers a hedge copy)."""
    return any(name == _HEDGE_HEADER for name, _value in headers or ())


def correlation_id_of(headers: Any) -> str | None:
    """The ``correlation-id`` header of a consumed record, or None."""
    for name, value in headers or ():
        if name == _CORRELATION_HEADER and value:
            try:
                return bytes(value).decode()
            except UnicodeDecodeError:
                return None
    return None


class ReplyConsumer:
    """Reads this instance's one partition of the replies topic into a :class:`ReplyRouter`."""

    def __init__(self, kafka: KafkaSettings, partition: int, router: ReplyRouter) -> None:
        self._kafka = kafka
        self._partition = TopicPartition(kafka.replies_topic, partition)
        self._router = router
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def assigned(self) -> bool:
        """True once the partition is assigned, positioned at the end and being read."""
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Connect, check the partition exists, assign it, seek to its end, start reading."""
        if self._consumer is not None:
            raise RuntimeError("ReplyConsumer already started")
        consumer = create_consumer(
            self._kafka,
            role=f"gateway-{self._partition.partition}",
            group_id=None,  # assigned, never group-managed: no rebalance can move it
            auto_offset_reset="latest",
        )
        self._consumer = consumer
        try:
            await consumer.start()
            partitions = consumer.partitions_for_topic(self._partition.topic) or set()
            if self._partition.partition not in partitions:
                raise KafkaUnavailable(
                    f"topic {self._partition.topic} has no partition {self._partition.partition}"
                    f" (it has {len(partitions)})"
                )
            consumer.assign([self._partition])
            await consumer.seek_to_end(self._partition)
            await consumer.position(self._partition)
        except BaseException:
            await self.stop()
            raise
        self._task = asyncio.create_task(self._read_forever(consumer), name="reply-consumer")

    async def _read_forever(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            try:
                batches = await consumer.getmany(self._partition, timeout_ms=1_000)
            except KafkaError as exc:
                # The fetcher reconnects by itself; keep reading, never die on a broker hiccup.
                log.warning("reply consumer error, retrying: %s", exc)
                await asyncio.sleep(0.2)
                continue
            for records in batches.values():
                for record in records:
                    self._router.deliver(
                        correlation_id_of(record.headers),
                        record.value or b"",
                        hedge=is_hedge_reply(record.headers),
                    )

    async def stop(self) -> None:
        """Stop reading and close the consumer (idempotent)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()
