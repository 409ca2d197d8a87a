"""Every reply and dead letter fits the producer's limit: caps on journeys, bytes and copies."""

from __future__ import annotations

import hashlib

from journeys.contract import MAX_REQUEST_BYTES, Header, ReplyStatus, decode_reply
from responder.batch import BatchHandler, ReplyLimits
from responder.dead_letters import dead_letter, record_size
from responder.store_lookup import RetryPolicy
from tests.support.journey_rows import journey_row, journeys_table
from tests.support.responder_builders import record, request_headers, request_record
from tests.unit.responder.test_batch import FakeStore, by_correlation

LIMIT = 65_536


def handler(store: FakeStore, limits: ReplyLimits) -> BatchHandler:
    return BatchHandler(
        store,
        replies_topic="replies",
        dlq_topic="dlq",
        reply_partitions=4,
        policy=RetryPolicy(attempts=1),
        limits=limits,
    )


def test_a_dead_letter_of_a_huge_record_is_cut_to_the_limit_and_names_the_original() -> None:
    value = b"x" * 5_000_000
    headers = [*request_headers("c-1"), ("junk", b"y" * 100_000), ("small", b"z")]
    huge = record(value, headers, key=b"k" * 10_000)
    message = dead_letter("dlq", huge, "too big", max_bytes=LIMIT)
    assert record_size(message.key, message.value, message.headers) <= LIMIT
    kept = dict(message.headers)
    assert kept[Header.CORRELATION_ID] == b"c-1"
    assert kept["small"] == b"z"
    assert "junk" not in kept
    assert kept[Header.TRUNCATED] == b"true"
    assert int(kept[Header.ORIGINAL_SIZE]) == record_size(huge.key, value, headers)
    assert kept[Header.ORIGINAL_SHA256] == hashlib.sha256(value).hexdigest().encode()
    assert value.startswith(message.value or b"")


def test_a_dead_letter_that_fits_is_the_original_plus_a_reason() -> None:
    small = record(b"{nope", request_headers("c-2"), key=b"k")
    message = dead_letter("dlq", small, "not JSON", max_bytes=LIMIT)
    assert (message.key, message.value) == (b"k", b"{nope")
    assert Header.TRUNCATED not in dict(message.headers)


async def test_an_oversized_request_value_is_refused_before_parsing_and_answered_invalid() -> None:
    big = record(b"{" * (MAX_REQUEST_BYTES + 1), request_headers("big", reply_partition=2))
    result = await handler(FakeStore(journeys_table([])), ReplyLimits()).handle([big])
    reply = decode_reply(by_correlation(result.replies)["big"].value or b"")
    assert reply.status is ReplyStatus.INVALID
    assert f"over {MAX_REQUEST_BYTES}" in (reply.error or "")
    assert len(result.dead_letters) == 1


async def test_a_customer_over_the_journey_cap_gets_too_large_and_others_are_answered() -> None:
    rows = [journey_row("big", f"j-{n:03}") for n in range(11)] + [journey_row("small", "s")]
    limits = ReplyLimits(max_journeys=10)
    records = [
        request_record("big", correlation_id="big"),
        request_record("small", correlation_id="s"),
    ]
    result = await handler(FakeStore(journeys_table(rows)), limits).handle(records)
    replies = by_correlation(result.replies)
    too_large = decode_reply(replies["big"].value or b"")
    assert too_large.status is ReplyStatus.TOO_LARGE
    assert too_large.journeys == []
    assert "more than 10 journeys" in (too_large.error or "")
    assert decode_reply(replies["s"].value or b"").status is ReplyStatus.OK


async def test_a_reply_over_the_size_limit_becomes_a_clear_error_reply() -> None:
    fat = journey_row("fat", "j-1", attributes='{"blob": "' + "b" * 5_000 + '"}')
    limits = ReplyLimits(max_reply_bytes=4_096)
    result = await handler(FakeStore(journeys_table([fat])), limits).handle(
        [request_record("fat", correlation_id="fat")]
    )
    message = by_correlation(result.replies)["fat"]
    assert len(message.value or b"") <= 4_096
    reply = decode_reply(message.value or b"")
    assert reply.status is ReplyStatus.TOO_LARGE
    assert reply.customer_id == "fat"
    assert "over 4096" in (reply.error or "")
    assert result.statuses == {ReplyStatus.TOO_LARGE: 1}
