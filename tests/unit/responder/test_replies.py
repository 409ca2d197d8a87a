"""Reply building: Arrow rows to the contract's JSON, sorted and filtered per request."""

from __future__ import annotations

from journeys.contract import (
    CONTRACT_VERSION,
    Header,
    JourneyReply,
    ReplyStatus,
    StatusFilter,
    decode_reply,
)
from responder.dead_letters import dead_letter
from responder.inbound import Routing
from responder.replies import JourneyIndex, encode_reply, reply
from tests.support.journey_rows import journey_row, journeys_table
from tests.support.responder_builders import record

ROUTING = Routing("corr-1", 5, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")


def index() -> JourneyIndex:
    return JourneyIndex.from_table(
        journeys_table(
            [
                journey_row("c1", "j-low", priority=50),
                journey_row("c2", "j-other", priority=1),
                journey_row("c1", "j-closed", status="closed", priority=5),
                journey_row("c1", "j-high", priority=1),
            ]
        )
    )


def test_journeys_are_sorted_by_priority_and_filtered_by_status() -> None:
    idx = index()
    assert [r["journey_id"] for r in idx.journeys("c1", StatusFilter.OPEN)] == ["j-high", "j-low"]
    assert [r["journey_id"] for r in idx.journeys("c1", StatusFilter.CLOSED)] == ["j-closed"]
    assert [r["journey_id"] for r in idx.journeys("c1", StatusFilter.ALL)] == [
        "j-high",
        "j-closed",
        "j-low",
    ]
    assert idx.journeys("nobody", StatusFilter.ALL) == []


def test_ok_reply_decodes_as_the_contract_with_utc_timestamps_and_attribute_objects() -> None:
    rows = index().journeys("c1", StatusFilter.ALL)
    decoded = decode_reply(encode_reply(ReplyStatus.OK, "c1", rows))
    assert decoded.status is ReplyStatus.OK
    assert decoded.v == CONTRACT_VERSION
    first = decoded.journeys[0]
    assert first.journey_id == "j-high"
    assert first.valid_from == "2025-03-01T12:00:00.123456Z"
    assert first.valid_to is None
    assert first.attributes == {"discount_pct": 40, "tags": ["a", "b"]}
    assert first.content.title == "Up to 40% off"
    assert decoded.journeys[1].closed_at == "2025-03-01T12:00:00.123456Z"


def test_error_reply_has_the_contract_shape() -> None:
    value = encode_reply(ReplyStatus.UNAVAILABLE, "c1", error="down")
    assert decode_reply(value) == JourneyReply(
        status=ReplyStatus.UNAVAILABLE, customer_id="c1", error="down"
    )


def test_reply_goes_to_the_named_partition_with_correlation_trace_and_version() -> None:
    message = reply("replies", ROUTING, ReplyStatus.NOT_FOUND, "c9")
    assert (message.topic, message.partition, message.key) == ("replies", 5, b"c9")
    assert dict(message.headers) == {
        Header.CORRELATION_ID: b"corr-1",
        Header.TRACEPARENT: ROUTING.traceparent.encode() if ROUTING.traceparent else b"",
        Header.CONTRACT_VERSION: str(CONTRACT_VERSION).encode(),
    }


def test_dead_letter_keeps_the_original_message_and_adds_a_reason() -> None:
    original = record(b"garbage", [("correlation-id", b"x")], key=b"k")
    message = dead_letter("dlq", original, "value is not JSON", max_bytes=65_536)
    assert (message.topic, message.partition, message.key, message.value) == (
        "dlq",
        None,
        b"k",
        b"garbage",
    )
    assert message.headers == [("correlation-id", b"x"), (Header.REASON, b"value is not JSON")]
