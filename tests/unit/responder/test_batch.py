"""The per-batch rules of the responder, with a fake store (no Kafka)."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from journeys.contract import Header, ReplyStatus, decode_reply
from responder.batch import STORE_UNAVAILABLE_ERROR, BatchHandler
from responder.replies import Outbound
from responder.store_lookup import RetryPolicy
from store import StoreError, StoreUnauthenticated, StoreUnavailable
from tests.support.journey_rows import journey_row, journeys_table
from tests.support.responder_builders import now_ms, record, request_headers, request_record


class FakeStore:
    """Answers lookups from a fixed table; can be told to fail the first N calls."""

    def __init__(self, table: pa.Table, failures: Sequence[StoreError] = ()) -> None:
        self.table = table
        self.failures = list(failures)
        self.calls: list[tuple[list[str], str]] = []

    async def lookup(self, customer_ids: Sequence[str], status: str = "all") -> pa.Table:
        self.calls.append((list(customer_ids), status))
        if self.failures:
            raise self.failures.pop(0)
        mask = pc.is_in(self.table["customer_id"], pa.array(list(customer_ids)))
        if status != "all":
            mask = pc.and_(mask, pc.equal(self.table["status"], status))
        return self.table.filter(mask)


STORE_TABLE = journeys_table(
    [
        journey_row("alice", "a2", priority=20),
        journey_row("alice", "a1", priority=10),
        journey_row("alice", "a-closed", status="closed"),
        journey_row("bob", "b1", status="closed"),
    ]
)


def handler(store: FakeStore, **kwargs: object) -> BatchHandler:
    options: dict[str, object] = {
        "replies_topic": "replies",
        "dlq_topic": "dlq",
        "reply_partitions": 4,
        "policy": RetryPolicy(attempts=3, backoff_s=0.001),
    }
    options.update(kwargs)
    return BatchHandler(store, **options)  # type: ignore[arg-type]


def by_correlation(messages: list[Outbound]) -> dict[str, Outbound]:
    return {dict(m.headers)[Header.CORRELATION_ID].decode(): m for m in messages}


async def test_one_store_call_per_status_filter_for_the_distinct_customers() -> None:
    store = FakeStore(STORE_TABLE)
    records = [
        request_record("alice", correlation_id="1"),
        request_record("bob", correlation_id="2"),
        request_record("alice", correlation_id="4"),
        request_record("alice", "all", correlation_id="3"),
    ]
    result = await handler(store).handle(records)
    assert store.calls == [(["alice", "bob"], "open"), (["alice"], "all")]
    assert result.customers_looked_up == 3
    assert result.consumed == 4


async def test_replies_apply_each_requests_status_filter_and_priority_order() -> None:
    records = [
        request_record("alice", correlation_id="open", reply_partition=2),
        request_record("alice", "all", correlation_id="all", reply_partition=3),
        request_record("bob", correlation_id="bob-open"),
        request_record("carol", correlation_id="nobody"),
    ]
    result = await handler(FakeStore(STORE_TABLE)).handle(records)
    replies = by_correlation(result.replies)
    open_reply = decode_reply(replies["open"].value or b"")
    assert open_reply.status is ReplyStatus.OK
    assert [j.journey_id for j in open_reply.journeys] == ["a1", "a2"]
    assert replies["open"].partition == 2
    all_reply = decode_reply(replies["all"].value or b"")
    assert [j.journey_id for j in all_reply.journeys] == ["a-closed", "a1", "a2"]
    assert replies["all"].partition == 3
    assert decode_reply(replies["bob-open"].value or b"").status is ReplyStatus.NOT_FOUND
    assert decode_reply(replies["nobody"].value or b"").status is ReplyStatus.NOT_FOUND
    assert result.statuses == {ReplyStatus.OK: 2, ReplyStatus.NOT_FOUND: 2}
    assert result.dead_letters == []


async def test_expired_requests_are_counted_answered_expired_and_not_looked_up() -> None:
    store = FakeStore(STORE_TABLE)
    records = [
        request_record("alice", correlation_id="late", deadline_ms=now_ms() - 5),
        request_record("bob", correlation_id="fresh"),
    ]
    result = await handler(store).handle(records)
    assert store.calls == [(["bob"], "open")]
    assert result.expired == 1
    late = decode_reply(by_correlation(result.replies)["late"].value or b"")
    assert late.status is ReplyStatus.EXPIRED


async def test_batch_of_only_expired_requests_makes_no_store_call() -> None:
    store = FakeStore(STORE_TABLE)
    records = [request_record("alice", deadline_ms=now_ms() - 1) for _ in range(3)]
    result = await handler(store, reply_expired=False).handle(records)
    assert store.calls == []
    assert result.expired == 3
    assert result.replies == []


async def test_garbage_goes_to_the_dlq_with_an_invalid_reply_and_the_rest_is_answered() -> None:
    garbage = record(b"{nope", request_headers(correlation_id="bad", reply_partition=1))
    unroutable = record(b"garbage", [("whatever", b"x")], key=b"k")
    records = [garbage, request_record("alice", correlation_id="good"), unroutable]
    result = await handler(FakeStore(STORE_TABLE)).handle(records)
    assert [(m.topic, m.value) for m in result.dead_letters] == [
        ("dlq", b"{nope"),
        ("dlq", b"garbage"),
    ]
    reasons = [dict(m.headers)[Header.REASON].decode() for m in result.dead_letters]
    assert "not JSON" in reasons[0]
    assert "correlation-id" in reasons[1]
    replies = by_correlation(result.replies)
    assert set(replies) == {"bad", "good"}
    invalid = decode_reply(replies["bad"].value or b"")
    assert invalid.status is ReplyStatus.INVALID
    assert invalid.error is not None
    assert replies["bad"].partition == 1
    assert decode_reply(replies["good"].value or b"").status is ReplyStatus.OK


async def test_store_unavailable_is_retried_then_answered_unavailable() -> None:
    store = FakeStore(STORE_TABLE, failures=[StoreUnavailable("down")] * 5)
    records = [
        request_record("alice", correlation_id="1"),
        request_record("bob", correlation_id="2"),
    ]
    result = await handler(store).handle(records)
    assert len(store.calls) == 3
    assert [outcome for _, outcome in result.store_calls] == ["error"] * 3
    for message in result.replies:
        decoded = decode_reply(message.value or b"")
        assert decoded.status is ReplyStatus.UNAVAILABLE
        assert decoded.error == STORE_UNAVAILABLE_ERROR
    assert result.statuses == {ReplyStatus.UNAVAILABLE: 2}


async def test_store_recovering_within_the_retries_gives_ok() -> None:
    store = FakeStore(STORE_TABLE, failures=[StoreUnavailable("blip")])
    result = await handler(store).handle([request_record("alice")])
    assert len(store.calls) == 2
    assert result.statuses == {ReplyStatus.OK: 1}


async def test_non_retriable_store_error_is_not_retried() -> None:
    store = FakeStore(STORE_TABLE, failures=[StoreUnauthenticated("bad token")])
    result = await handler(store).handle([request_record("alice")])
    assert len(store.calls) == 1
    assert result.statuses == {ReplyStatus.UNAVAILABLE: 1}


@pytest.mark.parametrize("reply_expired", [True, False])
async def test_reply_expired_setting_decides_whether_late_requests_are_answered(
    reply_expired: bool,
) -> None:
    records = [request_record("alice", deadline_ms=now_ms() - 1)]
    result = await handler(FakeStore(STORE_TABLE), reply_expired=reply_expired).handle(records)
    assert len(result.replies) == int(reply_expired)
    assert result.expired == 1


async def test_store_answer_that_does_not_fit_the_schema_gives_unavailable_not_a_crash() -> None:
    store = FakeStore(pa.table({"customer_id": ["alice"]}))
    result = await handler(store).handle([request_record("alice")])
    assert result.statuses == {ReplyStatus.UNAVAILABLE: 1}
