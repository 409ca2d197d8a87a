"""Per-request deadlines within one batch: a tight one never fails the others."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pyarrow as pa

from journeys.contract import ReplyStatus, decode_reply
from responder.batch import BatchHandler
from responder.store_lookup import RetryPolicy
from tests.support.journey_rows import journey_row, journeys_table
from tests.support.responder_builders import request_record
from tests.unit.responder.test_batch import FakeStore, by_correlation

NOW_MS = 1_700_000_000_000
STORE_PAUSE_S = 0.3


class SlowStore(FakeStore):
    """Takes ``STORE_PAUSE_S`` per lookup, and moves the batch's clock on by as much."""

    def __init__(self, table: pa.Table, clock: list[int]) -> None:
        super().__init__(table)
        self.clock = clock

    async def lookup(self, customer_ids: Sequence[str], status: str = "all") -> pa.Table:
        await asyncio.sleep(STORE_PAUSE_S)
        self.clock[0] += int(STORE_PAUSE_S * 1000)
        return await super().lookup(customer_ids, status)


async def test_a_tight_deadline_does_not_fail_the_rest_of_its_batch() -> None:
    clock = [NOW_MS]
    table = journeys_table([journey_row("alice", "a1"), journey_row("bob", "b1")])
    handler = BatchHandler(
        SlowStore(table, clock),
        replies_topic="replies",
        dlq_topic="dlq",
        reply_partitions=4,
        policy=RetryPolicy(attempts=1, min_budget_s=0.05, max_budget_s=5.0),
        clock_ms=lambda: clock[0],
    )
    records = [
        # 30 ms left: less than the store takes. Before the fix the whole batch's budget was
        # this request's (50 ms floor), so the slow store call failed everyone with 503.
        request_record("alice", correlation_id="tight", deadline_ms=NOW_MS + 30),
        request_record("bob", correlation_id="roomy", deadline_ms=NOW_MS + 10_000),
    ]
    result = await handler.handle(records)
    replies = by_correlation(result.replies)
    roomy = decode_reply(replies["roomy"].value or b"")
    assert roomy.status is ReplyStatus.OK
    assert [j.journey_id for j in roomy.journeys] == ["b1"]
    assert decode_reply(replies["tight"].value or b"").status is ReplyStatus.EXPIRED
    assert result.expired == 1
    assert ReplyStatus.UNAVAILABLE not in result.statuses
