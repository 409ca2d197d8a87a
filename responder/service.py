"""The responder's Kafka loop: poll a batch, answer it, wait for the acks, then commit.

:class:`Responder` is an async context manager that owns its consumer (group member on the
requests topic) and producer (replies and dead letters); the store client is owned by the
caller and passed in. Delivery is at-least-once: offsets are committed only after every reply
and dead letter of the batch is acknowledged, in order; if producing fails, the consumer is
rewound to the batch's first offsets (and those of every batch sent after it) and they are
answered again (lookups are idempotent). The next poll waits neither for a batch's
acknowledgements (:mod:`responder.in_flight`: one slow reply partition must not hold the
others) nor for its commit (:mod:`responder.commits`: nor a moving group coordinator).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, Final, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from aiokafka.structs import TopicPartition

from journeys.kafka import (
    PRODUCER_BROKEN,
    create_consumer,
    create_producer,
    ensure_topics,
    replace_producer,
)
from responder.batch import BatchHandler
from responder.commits import FLUSH_TIMEOUT_S, OffsetCommitter
from responder.errors import ResponderStartError
from responder.in_flight import SentBatch, SentBatches
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


class _LogAssignment(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, group_id: str, settle: Callable[[], Awaitable[None]]) -> None:
        self._group_id = group_id
        self._settle = settle

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        # What was answered is committed before the partitions move on, as long as this
        # generation may still commit (a later commit could set back the new owner's).
        await self._settle()
        if revoked:
            log.info("group %s revoked partitions %s", self._group_id, _partitions(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("group %s assigned partitions %s", self._group_id, _partitions(assigned))


def _partitions(tps: set[TopicPartition]) -> list[int]:
    return sorted(tp.partition for tp in tps)


def _next_offsets(records: Sequence[InboundRecord]) -> dict[TopicPartition, int]:
    """The offset after each partition's last record of ``records``: what to commit."""
    offsets: dict[TopicPartition, int] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        offsets[tp] = max(offsets.get(tp, 0), record.offset + 1)
    return offsets


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
        self._committer = OffsetCommitter(self._commit_offsets, metrics.commit_failures.inc)
        self._sent = SentBatches(
            self._settled,
            ack_timeout_s=settings.produce_timeout_ms / 1000,
            on_oversized=lambda exc: self._drop_oversized(None, exc),
        )
        #: Bumped by each produce failure: batches sent before it are read again, not committed.
        self._epoch = 0
        #: Where this epoch's rewinds left each partition (a later rewind never moves forward).
        self._rewound: dict[TopicPartition, int] = {}
        self._resume_at = 0.0
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
                [kafka.requests_topic],
                listener=_LogAssignment(self._settings.group_id, self._settle_all),
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
        if self._consumer is not None:
            # The batches on their way acknowledged and committed, before leaving.
            await self._sent.drain(self._settings.produce_timeout_ms / 1000)
            await self._sent.close()
            await self._committer.close()
        consumer, self._consumer = self._consumer, None
        producer, self._producer = self._producer, None
        if consumer is not None:
            with contextlib.suppress(KafkaError):
                await consumer.stop()
        if producer is not None:
            with contextlib.suppress(KafkaError):
                await producer.stop()

    async def run(self, stop: asyncio.Event) -> None:
        """Answer batches until ``stop`` is set; the batches in hand are finished and committed."""
        consumer = self._require(self._consumer)
        while not stop.is_set():
            if (pause := self._resume_at - time.monotonic()) > 0:
                await asyncio.sleep(pause)  # after a produce failure
            batches = await consumer.getmany(
                timeout_ms=self._settings.poll_timeout_ms, max_records=self._settings.max_batch
            )
            records = [record for part in batches.values() for record in part]
            if records:
                await self.process(records)
            await self._check_positions(consumer)
        await self._sent.drain(self._settings.produce_timeout_ms / 1000)
        log.info("responder stopping after %d batches", self.batches)

    async def process(self, records: Sequence[InboundRecord]) -> None:
        """Answer one batch: look up, send the replies and dead letters, and hand the batch to
        :class:`SentBatches`, which commits it once they are acknowledged."""
        handler = self._require(self._handler)
        epoch = self._epoch
        with batch_span(records, self._kafka.requests_topic) as span:
            result = await handler.handle(records)
            batch = SentBatch(records, result, [], span.get_span_context(), epoch)
            try:
                batch.acks = await self._send(result.messages)
            except (KafkaError, TimeoutError) as exc:
                await self._failed(batch, exc)
                return
        if epoch != self._epoch:
            self._rewind(records)  # read before a produce failure: it is read again
            return
        await self._sent.add(batch)

    async def _settled(self, batch: SentBatch, error: BaseException | None) -> None:
        """A batch's messages were all acknowledged (``error`` None), or not."""
        if batch.epoch != self._epoch:
            return  # sent before a produce failure, rewound with it: read and answered again
        if error is not None:
            await self._failed(batch, error)
            return
        self._metrics.record_batch(batch.result)
        log_answers(batch.result.replies, batch.span_context)
        self.batches += 1
        self._committer.submit(_next_offsets(batch.records))

    async def _failed(self, batch: SentBatch, error: BaseException) -> None:
        """Producing ``batch`` failed: it and every batch sent after it are read again."""
        self._metrics.produce_failures.inc()
        log.error(
            "producing %d messages failed (%r); re-reading the batch",
            len(batch.result.messages),
            error,
        )
        self._epoch += 1
        self._rewound = {}
        later = [b for b in self._sent.pending() if b is not batch]
        self._rewind([record for b in (batch, *later) for record in b.records])
        if isinstance(error, PRODUCER_BROKEN):
            await self._replace_producer()
        self._resume_at = time.monotonic() + _PRODUCE_RETRY_PAUSE_S

    async def _settle_all(self) -> None:
        """The batches on their way settled and their offsets committed (bounded)."""
        await self._sent.drain(FLUSH_TIMEOUT_S)
        await self._committer.flush()

    async def _replace_producer(self) -> None:
        """A new idempotent producer (new producer id) for one whose sequence state broke."""
        broken = self._require(self._producer)
        self._producer = await replace_producer(broken, self._kafka, role="responder")
        if self._producer is not broken:
            self._metrics.producer_replacements.inc()

    async def _send(self, messages: Sequence[Outbound]) -> list[asyncio.Future[Any]]:
        """Hand ``messages`` to the producer; their acknowledgements, still to come."""
        producer = self._require(self._producer)
        acks: list[asyncio.Future[Any]] = []
        async with asyncio.timeout(self._settings.produce_timeout_ms / 1000):
            for m in messages:
                try:
                    acks.append(
                        await producer.send(
                            m.topic, m.value, key=m.key, partition=m.partition, headers=m.headers
                        )
                    )
                except MessageSizeTooLargeError as exc:
                    self._drop_oversized(m, exc)
        return acks

    def _drop_oversized(self, message: Outbound | None, exc: BaseException) -> None:
        """A message no retry can deliver is dropped and counted, never re-read forever."""
        self._metrics.oversized_dropped.inc()
        where = "" if message is None else f" to {message.topic}"
        log.error("dropping a message%s that Kafka refuses as too large: %s", where, exc)

    async def _commit_offsets(self, offsets: dict[TopicPartition, int]) -> None:
        await self._require(self._consumer).commit(offsets)

    def _rewind(self, records: Sequence[InboundRecord]) -> None:
        """Seek each partition of ``records`` back to its first offset among them (never
        forward of where this epoch's earlier rewinds put it)."""
        consumer = self._require(self._consumer)
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            self._rewound[tp] = min(self._rewound.get(tp, record.offset), record.offset)
        for tp in {TopicPartition(r.topic, r.partition) for r in records}:
            try:
                consumer.seek(tp, self._rewound[tp])
            except (KafkaError, AssertionError) as exc:  # not assigned any more
                log.warning("cannot rewind %s to %d: %s", tp, self._rewound[tp], exc)

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
