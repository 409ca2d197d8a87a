"""Reads this gateway's one partition of the replies topic into its :class:`ReplyRouter`.

The partition is *assigned*, not group-managed: no rebalance can move it and no other instance
reads it. At start the consumer seeks to the end (earlier replies belong to a previous life of
this instance) and resolves the position before the gateway reports ready, so no reply to a
request sent after start-up can be skipped.

Failures are visible, never silent:

- a Kafka error on a read is retried (the fetcher reconnects by itself), but once reads have
  failed for ``unhealthy_after_s`` the reader is not :attr:`~ReplyReader.readable` (``/readyz``
  answers 503 and lookups get 503 at once instead of 504 at their deadline);
- once they have failed for ``give_up_after_s`` the reader stops with
  :class:`ReplyReaderFailed`; the reader also stops if anything else goes wrong in it.
  :class:`api.kafka_link.KafkaLink` awaits :meth:`~ReplyReader.stopped` and reconnects with a
  bounded backoff (a fresh consumer at the partition's end, past whatever could not be read).

A leader change is not an error to an aiokafka consumer: it fetches without a leader epoch, so
Apache Kafka (fetch v11+, KIP-392) goes on serving it from the old leader, now a follower,
whose log lags and, while that broker shuts down, stands still. The consumer moves to the new
leader only when its metadata is refreshed. So while requests wait and no reply has been read
for ``stale_after_s``, the reader refreshes the consumer's metadata (at most once per
``stale_after_s``); a silence nobody waits through costs nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from api.errors import KafkaUnavailable
from api.reply_router import (
    ReplyRouter,
    correlation_id_of,
    deadline_of,
    header_text,
    is_hedge_reply,
)
from journeys.contract import Header
from journeys.kafka import KafkaSettings, create_consumer

log = logging.getLogger(__name__)

#: A read that returns nothing for this long checks the position (no broker request).
_IDLE_CHECK_MS = 200
#: Requests waiting and no reply read for this long: ask who leads the partition now.
STALE_AFTER_S = 0.25


class ReplyReaderFailed(Exception):
    """Reads of the reply partition kept failing for longer than the reader may retry."""


class ReplyReader:
    """The reply partition's consumer and the task that reads it."""

    def __init__(
        self,
        kafka: KafkaSettings,
        partition: int,
        router: ReplyRouter,
        *,
        unhealthy_after_s: float = 2.0,
        give_up_after_s: float = 10.0,
        stale_after_s: float = STALE_AFTER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kafka = kafka
        self._partition = TopicPartition(kafka.replies_topic, partition)
        self._router = router
        self._unhealthy_after_s = unhealthy_after_s
        self._give_up_after_s = max(give_up_after_s, unhealthy_after_s)
        self._stale_after_s = stale_after_s
        self._clock = clock
        #: Since when nothing was read while requests waited (reset by a reply or a refresh).
        self._quiet_since = clock()
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        #: When the current run of failed reads began (None: the last read succeeded).
        self.failing_since: float | None = None
        #: The offset after the last reply read (None until positioned at start).
        self._next_offset: int | None = None
        #: Times Kafka said the log was lost and the reader went back to its start.
        self.read_again = 0

    @property
    def assigned(self) -> bool:
        """True once the partition is assigned, positioned at the end and being read."""
        return self._task is not None and not self._task.done()

    @property
    def readable(self) -> bool:
        """Being read, and reads have not been failing for ``unhealthy_after_s``."""
        failing_since = self.failing_since
        healthy = failing_since is None or (self._clock() - failing_since < self._unhealthy_after_s)
        return self.assigned and healthy

    async def start(self) -> None:
        """Connect, check the partition exists, assign it, seek to its end, start reading."""
        if self._consumer is not None:
            raise RuntimeError("ReplyReader already started")
        consumer = create_consumer(
            self._kafka,
            role=f"gateway-{self._partition.partition}",
            group_id=None,  # assigned, never group-managed: no rebalance can move it
            # start() seeks to the end itself; this only applies when Kafka answers a fetch
            # "offset out of range" (the log was lost: truncated, recreated, an unclean leader
            # election): then read the partition from its start, so no reply written since is
            # skipped, and send the waiting requests again (see _went_back).
            auto_offset_reset="earliest",
        )
        self._consumer = consumer
        try:
            await consumer.start()
            # An assigned (unsubscribed) consumer has no topic metadata yet, and Apache Kafka
            # answers its empty metadata request with no topics: fetch the cluster's metadata.
            cluster = await consumer._client.fetch_all_metadata()
            partitions = cluster.partitions_for_topic(self._partition.topic) or set()
            if self._partition.partition not in partitions:
                raise KafkaUnavailable(
                    f"topic {self._partition.topic} has no partition {self._partition.partition}"
                    f" (it has {len(partitions)})"
                )
            consumer.assign([self._partition])
            await consumer.seek_to_end(self._partition)
            self._next_offset = await consumer.position(self._partition)
        except BaseException:
            await self.stop()
            raise
        self._task = asyncio.create_task(self._read_forever(consumer), name="reply-reader")

    async def stopped(self) -> BaseException | None:
        """Wait until the reading task ends; what ended it (None: cancelled or not started)."""
        task = self._task
        if task is None:
            return None
        await asyncio.wait([task])
        if task.cancelled():
            return None
        return task.exception()

    async def _read_forever(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            try:
                batches = await consumer.getmany(self._partition, timeout_ms=_IDLE_CHECK_MS)
            except KafkaError as exc:
                self._read_failed(exc)
                await asyncio.sleep(0.2)
                continue
            self.failing_since = None
            self._refresh_if_stale(consumer, read=bool(batches))
            for records in batches.values():
                went_back = self._went_back(records[0].offset)
                for record in records:
                    self._router.deliver(
                        correlation_id_of(record.headers),
                        record.value or b"",
                        header_text(record.headers, Header.REQUESTER_ID),
                        hedge=is_hedge_reply(record.headers),
                        deadline_ms=deadline_of(record.headers),
                    )
                self._next_offset = records[-1].offset + 1
                if went_back:
                    self._router.replies_lost()
            if not batches and self._went_back(await consumer.position(self._partition)):
                self._router.replies_lost()

    def _refresh_if_stale(self, consumer: AIOKafkaConsumer, *, read: bool) -> None:
        """Refresh the consumer's metadata when requests wait and no reply came for
        ``stale_after_s``: it may be reading a former leader (see the module docstring)."""
        now = self._clock()
        if read or not self._router.pending:
            self._quiet_since = now  # a reply came, or nobody waits: silence is no sign
            return
        if now - self._quiet_since < self._stale_after_s:
            return
        self._quiet_since = now
        log.debug(
            "no reply for %.2fs while requests wait: refreshing metadata", self._stale_after_s
        )
        consumer._client.force_metadata_update()  # no public call for it

    def _went_back(self, offset: int) -> bool:
        """True when the reader is at ``offset``, before where it was: only Kafka's "offset out
        of range" answer moves it back (the consumer then resets to the start), so the log
        was lost and replies written to the lost part will never arrive.

        A partition's high watermark below the reader's position is *not* such a sign: after
        a leader change the new leader's high watermark can sit briefly below it.
        """
        previous, self._next_offset = self._next_offset, offset
        if previous is None or offset >= previous:
            return False
        self.read_again += 1
        log.warning(
            "%s was read again from offset %d (the reader was at %d): Kafka said the log was lost",
            self._partition,
            offset,
            previous,
        )
        return True

    def _read_failed(self, exc: KafkaError) -> None:
        now = self._clock()
        if self.failing_since is None:
            self.failing_since = now
        failing_for = now - self.failing_since
        if failing_for >= self._give_up_after_s:
            raise ReplyReaderFailed(f"reading replies failed for {failing_for:.1f}s: {exc}")
        log.warning("reply reader error, retrying: %s", exc)

    async def stop(self) -> None:
        """Stop reading and close the consumer (idempotent)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()
