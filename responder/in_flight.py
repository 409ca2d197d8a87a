"""Replies on their way: batches whose messages are sent and not yet all acknowledged.

A batch's replies go to the reply partitions its requests named, one per gateway. After a
leader change of one of them (a broker restarted, a preferred-leader election), Apache Kafka
acknowledges writes to it only once every in-sync follower fetches from the new leader, one to
two seconds later on a busy machine. A responder that waited for a batch's acknowledgements
before its next poll stalled for that long on *every* partition, so both gateways' lookups
timed out for one gateway's reply partition (the three-broker rolling restart and the
preferred-leader elections, tests/cluster/test_kafka_cluster.py). So the responder polls on
while batches are on their way, and :class:`SentBatches` settles them *in order*: each batch
is handed to ``settled`` once all its messages are acknowledged (or one failed, or they took
longer than ``ack_timeout_s``), never before an earlier one, so offsets are committed in order.
At most ``max_records`` records are on their way at once; :meth:`SentBatches.add` waits for
room beyond that.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from aiokafka.errors import MessageSizeTooLargeError, RecordTooLargeError

from responder.batch import BatchResult
from responder.inbound import InboundRecord

log = logging.getLogger(__name__)

#: Records on their way at most (a few seconds of a busy responder's requests).
MAX_RECORDS: Final = 10_000
#: Errors no retry can fix: the message is dropped and counted, the batch is not failed.
TOO_LARGE: Final = (MessageSizeTooLargeError, RecordTooLargeError)


@dataclass(slots=True)
class SentBatch:
    """One batch whose messages are sent: what it answered and the acknowledgements due."""

    records: Sequence[InboundRecord]
    result: BatchResult
    acks: list[asyncio.Future[Any]]
    #: The batch span's context, for the ``answered`` log lines once acknowledged.
    span_context: Any = None
    #: Which run of the responder sent it (a produce failure starts a new one).
    epoch: int = 0
    sent_at: float = field(default_factory=time.monotonic)


#: ``settled(batch, error)``: error is None when every message was acknowledged.
Settled = Callable[[SentBatch, BaseException | None], Awaitable[None]]


class SentBatches:
    """Batches on their way, settled one after the other in the order they were sent."""

    def __init__(
        self,
        settled: Settled,
        *,
        ack_timeout_s: float,
        max_records: int = MAX_RECORDS,
        on_oversized: Callable[[BaseException], None] = lambda exc: None,
    ) -> None:
        self._settled = settled
        self._ack_timeout_s = ack_timeout_s
        self._max_records = max_records
        self._on_oversized = on_oversized
        self._queue: deque[SentBatch] = deque()
        self._records = 0
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._queue)

    async def add(self, batch: SentBatch) -> None:
        """Queue ``batch`` to be settled; waits while ``max_records`` are on their way."""
        self._start()
        async with self._changed:
            await self._changed.wait_for(
                lambda: not self._queue or self._records + len(batch.records) <= self._max_records
            )
            self._queue.append(batch)
            self._records += len(batch.records)
            self._changed.notify_all()

    async def drain(self, timeout_s: float) -> bool:
        """Wait until every queued batch is settled; False when some are still on their way."""
        try:
            async with asyncio.timeout(timeout_s), self._changed:
                await self._changed.wait_for(lambda: not self._queue)
        except TimeoutError:
            return False
        return True

    def pending(self) -> list[SentBatch]:
        """The batches not settled yet, oldest first."""
        return list(self._queue)

    async def close(self) -> None:
        """Stop settling (what is still queued is left unsettled: not committed)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _start(self) -> None:
        if self._task is None or self._task.done():
            if self._task is not None:
                self._task.result()  # a bug in settling surfaces here, not silently
            self._task = asyncio.create_task(self._settle_forever(), name="settle-batches")

    async def _settle_forever(self) -> None:
        while True:
            async with self._changed:
                await self._changed.wait_for(lambda: bool(self._queue))
            batch = self._queue[0]
            error = await self._outcome(batch)
            try:
                await self._settled(batch, error)
            finally:
                async with self._changed:
                    self._queue.popleft()
                    self._records -= len(batch.records)
                    self._changed.notify_all()

    async def _outcome(self, batch: SentBatch) -> BaseException | None:
        remaining = batch.sent_at + self._ack_timeout_s - time.monotonic()
        try:
            async with asyncio.timeout(max(0.0, remaining)):
                outcomes = await asyncio.gather(*batch.acks, return_exceptions=True)
        except TimeoutError as exc:
            return exc
        error: BaseException | None = None
        for outcome in outcomes:
            if isinstance(outcome, TOO_LARGE):
                self._on_oversized(outcome)  # the broker's limit is lower than ours
            elif isinstance(outcome, BaseException) and error is None:
                error = outcome
        return error
