"""The responder's Kafka loop: poll a batch, answer it, wait for the acks, then commit.

:class:`Responder` is an async context manager that owns its consumer (group member on the
requests topic) and producer (replies and dead letters); the store client is owned by the
caller and passed in. Delivery is at-least-once: offsets are committed only after every reply
and dead letter of the batch is acknowledged; if producing fails, the consumer is rewound to
the batch's first offsets and the batch is answered again (lookups are idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Final, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.errors import KafkaError, MessageSizeTooLargeError, RecordTooLargeError
from aiokafka.structs import TopicPartition

from journeys.kafka import (
    PRODUCER_BROKEN,
    create_consumer,
    create_producer,
    ensure_topics,
    replace_producer,
)
from responder.batch import BatchHandler
from responder.errors import ResponderStartError
from responder.inbound import InboundRecord
from responder.metrics import ResponderMetrics
from responder.replies import Outbound
from responder.settings import ResponderSettings
from responder.store_lookup import JourneyLookup
from responder.tracing import batch_span, log_answers

log = logging.getLogger(__name__)

#: How often positions are compared with the partitions' ends (the lag gauge, and a partition
#: that now ends before its position: a broker that lost its log, whose requests wait unserved
#: until this check). Both numbers come from the last fetch responses, no broker request.
_LAG_INTERVAL_S: Final = 0.25
_POSITION_TIMEOUT_S: Final = 0.5
_PRODUCE_RETRY_PAUSE_S: Final = 0.5
_T = TypeVar("_T")
_TOO_LARGE: Final = (MessageSizeTooLargeError, RecordTooLargeError)


class _LogAssignment(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, group_id: str) -> None:
        self._group_id = group_id

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        if revoked:
            log.info("group %s revoked partitions %s", self._group_id, _partitions(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("group %s assigned partitions %s", self._group_id, _partitions(assigned))


def _partitions(tps: set[TopicPartition]) -> list[int]:
    return sorted(tp.partition for tp in tps)


class Responder:
    """One responder: a consumer-group member answering request batches."""

    def __init__(
        self, settings: ResponderSettings, store: JourneyLookup, metrics: ResponderMetrics
    ) -> None:
        self._settings = settings
        self._kafka = settings.kafka
        self._store = store
        self._metrics = metrics
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._handler: BatchHandler | None = None
        self._next_lag_at = 0.0
        self.batches = 0

    async def __aenter__(self) -> Responder:
        if self._producer is not None:
            raise ResponderStartError("the responder is already started")
        try:
            await self._start()
        except BaseException:
            await self._close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close()

    async def _start(self) -> None:
        kafka = self._kafka
        try:
            if kafka.create_topics:
                await ensure_topics(kafka)
            self._producer = create_producer(kafka, role="responder")
            await self._producer.start()
            reply_partitions = await self._producer.partitions_for(kafka.replies_topic)
            if not reply_partitions:
                raise ResponderStartError(f"replies topic {kafka.replies_topic!r} does not exist")
            self._consumer = create_consumer(
                kafka,
                role="responder",
                group_id=self._settings.group_id,
                max_poll_records=self._settings.max_batch,
                group_instance_id=self._settings.group_instance_id,
            )
            self._consumer.subscribe(
                [kafka.requests_topic], listener=_LogAssignment(self._settings.group_id)
            )
            await self._consumer.start()
        except KafkaError as exc:
            raise ResponderStartError(
                f"cannot connect to Kafka at {kafka.bootstrap_servers}: {exc}"
            ) from exc
        self._handler = BatchHandler(
            self._store,
            replies_topic=kafka.replies_topic,
            dlq_topic=kafka.dlq_topic,
            reply_partitions=max(reply_partitions) + 1,
            policy=self._settings.retry_policy(),
            reply_margin_ms=self._settings.reply_margin_ms,
            reply_expired=self._settings.reply_expired,
            limits=self._settings.reply_limits(),
        )
        log.info(
            "responder started: group %s on %s (%s), replies on %d partitions",
            self._settings.group_id,
            kafka.requests_topic,
            kafka.bootstrap_servers,
            self._handler.reply_partitions,
        )

    async def _close(self) -> None:
        # Stopping the consumer leaves the group, so its partitions move on at once. A static
        # member (group_instance_id) stays: its restart takes the partitions back without a
        # rebalance, and the gateways' hedges answer its requests meanwhile.
        consumer, self._consumer = self._consumer, None
        producer, self._producer = self._producer, None
        if consumer is not None:
            with contextlib.suppress(KafkaError):
                await consumer.stop()
        if producer is not None:
            with contextlib.suppress(KafkaError):
                await producer.stop()

    async def run(self, stop: asyncio.Event) -> None:
        """Answer batches until ``stop`` is set; the batch in hand is finished and committed."""
        consumer = self._require(self._consumer)
        while not stop.is_set():
            batches = await consumer.getmany(
                timeout_ms=self._settings.poll_timeout_ms, max_records=self._settings.max_batch
            )
            records = [record for part in batches.values() for record in part]
            if records:
                await self.process(records)
            await self._check_positions(consumer)
        log.info("responder stopping after %d batches", self.batches)

    async def process(self, records: Sequence[InboundRecord]) -> None:
        """Answer one batch: replies and dead letters acknowledged, then offsets committed."""
        handler = self._require(self._handler)
        with batch_span(records, self._kafka.requests_topic) as span:
            result = await handler.handle(records)
            try:
                await self._produce(result.messages)
            except (KafkaError, TimeoutError) as exc:
                self._metrics.produce_failures.inc()
                log.error(
                    "producing %d messages failed (%s); re-reading the batch",
                    len(result.messages),
                    exc,
                )
                self._rewind(records)
                if isinstance(exc, PRODUCER_BROKEN):
                    await self._replace_producer()
                await asyncio.sleep(_PRODUCE_RETRY_PAUSE_S)
                return
            self._metrics.record_batch(result)
            log_answers(result.replies, span.get_span_context())
            self.batches += 1
            await self._commit(records)

    async def _replace_producer(self) -> None:
        """A new idempotent producer (new producer id) for one whose sequence state broke."""
        broken = self._require(self._producer)
        self._producer = await replace_producer(broken, self._kafka, role="responder")
        if self._producer is not broken:
            self._metrics.producer_replacements.inc()

    async def _produce(self, messages: Sequence[Outbound]) -> None:
        producer = self._require(self._producer)
        async with asyncio.timeout(self._settings.produce_timeout_ms / 1000):
            acks = []
            for m in messages:
                try:
                    acks.append(
                        await producer.send(
                            m.topic, m.value, key=m.key, partition=m.partition, headers=m.headers
                        )
                    )
                except MessageSizeTooLargeError as exc:
                    self._drop_oversized(m, exc)
            for outcome in await asyncio.gather(*acks, return_exceptions=True):
                if isinstance(outcome, _TOO_LARGE):
                    # The broker's limit is lower than ours: re-sending cannot help.
                    self._drop_oversized(None, outcome)
                elif isinstance(outcome, BaseException):
                    raise outcome

    def _drop_oversized(self, message: Outbound | None, exc: Exception) -> None:
        """A message no retry can deliver is dropped and counted, never re-read forever."""
        self._metrics.oversized_dropped.inc()
        where = "" if message is None else f" to {message.topic}"
        log.error("dropping a message%s that Kafka refuses as too large: %s", where, exc)

    async def _commit(self, records: Sequence[InboundRecord]) -> None:
        consumer = self._require(self._consumer)
        offsets: dict[TopicPartition, int] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            offsets[tp] = max(offsets.get(tp, 0), record.offset + 1)
        try:
            await consumer.commit(offsets)
        except KafkaError as exc:
            # A rebalance took the partitions: their new owner answers the batch again.
            self._metrics.commit_failures.inc()
            log.warning("commit of %s failed: %s", offsets, exc)

    def _rewind(self, records: Sequence[InboundRecord]) -> None:
        consumer = self._require(self._consumer)
        first: dict[TopicPartition, int] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            first[tp] = min(first.get(tp, record.offset), record.offset)
        for tp, offset in first.items():
            try:
                consumer.seek(tp, offset)
            except (KafkaError, AssertionError) as exc:  # not assigned any more
                log.warning("cannot rewind %s to %d: %s", tp, offset, exc)

    async def _check_positions(self, consumer: AIOKafkaConsumer) -> None:
        now = time.monotonic()
        if now < self._next_lag_at:
            return
        self._next_lag_at = now + _LAG_INTERVAL_S
        lag: dict[tuple[str, int], int] = {}
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            try:
                async with asyncio.timeout(_POSITION_TIMEOUT_S):
                    position = await consumer.position(tp)
            except (KafkaError, TimeoutError):
                continue
            # Below the position during a leader change: a lag of 0, not a lost log (Kafka
            # answers a truly lost one "offset out of range" and the consumer resets itself).
            lag[(tp.topic, tp.partition)] = max(0, highwater - position)
        self._metrics.set_lag(lag)

    @staticmethod
    def _require(client: _T | None) -> _T:
        if client is None:
            raise ResponderStartError("the responder is not started (use 'async with')")
        return client
