"""Offset commits off the request path: each batch's offsets are committed in the background.

A commit is a request to the group coordinator. When the coordinator moves (its broker shuts
down: the offsets partition gets a new leader, which loads the group first), aiokafka retries
the commit until the new coordinator answers, two seconds and more. Awaited before the next
poll, that stalled every responder of the group at once, and the requests waiting meanwhile
expired (the three-broker rolling restart, tests/cluster/test_kafka_cluster.py). A commit only
bounds what a restarted member answers again (lookups are idempotent), so it need not hold the
poll: :class:`OffsetCommitter` commits one batch's offsets at a time in the background, and the
offsets of batches answered meanwhile are merged into the next commit. It is flushed before the
group takes partitions away (a rebalance) and when the responder stops, so a clean stop still
leaves every answered request committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

log = logging.getLogger(__name__)

#: How long a flush waits for the commit in flight (a rebalance or a stop waits this long).
FLUSH_TIMEOUT_S: Final = 5.0

Offsets = dict[TopicPartition, int]


class OffsetCommitter:
    """Commits offsets with ``commit`` in the background, one commit at a time.

    ``on_failure`` is called for each commit Kafka refused (its batches may be answered again).
    """

    def __init__(
        self,
        commit: Callable[[Offsets], Awaitable[object]],
        on_failure: Callable[[], None] = lambda: None,
    ) -> None:
        self._commit = commit
        self._on_failure = on_failure
        self._waiting: Offsets = {}
        self._task: asyncio.Task[None] | None = None

    @property
    def busy(self) -> bool:
        """A commit is in flight or offsets wait for one."""
        return bool(self._waiting) or (self._task is not None and not self._task.done())

    def submit(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Commit ``offsets`` (next offset to read, per partition) soon; returns at once."""
        for tp, offset in offsets.items():
            self._waiting[tp] = max(self._waiting.get(tp, offset), offset)
        task = self._task
        if task is not None and task.done():
            self._task = None
            task.result()  # a failure other than Kafka's is a bug: let it surface here
        if self._task is None:
            self._task = asyncio.create_task(self._drain(), name="offset-commit")

    async def _drain(self) -> None:
        while self._waiting:
            offsets, self._waiting = self._waiting, {}
            try:
                await self._commit(offsets)
            except KafkaError as exc:
                # A rebalance took the partitions: their new owner answers the batch again.
                self._on_failure()
                log.warning("commit of %s failed: %s", offsets, exc)

    async def flush(self, timeout_s: float = FLUSH_TIMEOUT_S) -> bool:
        """Wait until every submitted offset is committed (or refused); False on timeout."""
        task = self._task
        if task is None:
            return True
        try:
            async with asyncio.timeout(timeout_s):
                await asyncio.shield(task)
        except TimeoutError:
            log.warning("offset commit still running after %.1fs", timeout_s)
            return False
        return True

    async def close(self, timeout_s: float = FLUSH_TIMEOUT_S) -> None:
        """Flush, then give up a commit still running (the consumer is about to close)."""
        await self.flush(timeout_s)
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
