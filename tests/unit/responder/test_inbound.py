"""Validation of request records: nothing from the DMZ is trusted."""

from __future__ import annotations

import pytest

from journeys.contract import Header, StatusFilter
from responder.inbound import Expired, InboundRequest, Rejection, parse_record
from tests.support.responder_builders import (
    now_ms,
    record,
    request_headers,
    request_record,
    request_value,
)

PARTITIONS = 8


def parse(rec: object, now: int | None = None) -> object:
    return parse_record(rec, reply_partitions=PARTITIONS, now_ms=now or now_ms())  # type: ignore[arg-type]


def test_valid_request_is_parsed_with_its_routing() -> None:
    parsed = parse(request_record("cust-1", "all", correlation_id="abc", reply_partition=3))
    assert isinstance(parsed, InboundRequest)
    assert parsed.customer_id == "cust-1"
    assert parsed.status is StatusFilter.ALL
    assert parsed.routing.correlation_id == "abc"
    assert parsed.routing.reply_partition == 3
    assert parsed.routing.traceparent is not None


def test_request_past_its_deadline_is_expired_without_decoding_the_value() -> None:
    rec = record(b"not json", request_headers(deadline_ms=now_ms() - 1))
    parsed = parse(rec)
    assert isinstance(parsed, Expired)


def test_garbage_value_is_rejected_but_still_routable() -> None:
    parsed = parse(record(b"\xff\x00garbage", request_headers(correlation_id="c1")))
    assert isinstance(parsed, Rejection)
    assert "not JSON" in parsed.reason
    assert parsed.routing is not None
    assert parsed.routing.correlation_id == "c1"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b'{"customer_id": "bad id!"}', "customer_id"),
        (b'{"customer_id": "c1", "status": "maybe"}', "status"),
        (b'{"customer_id": "c1", "extra": 1}', "extra"),
        (b"[1, 2]", "invalid request"),
        (b'{"v": 2, "customer_id": "c1"}', "contract version"),
    ],
)
def test_invalid_value_is_rejected_with_a_reason(value: bytes, reason: str) -> None:
    parsed = parse(record(value, request_headers()))
    assert isinstance(parsed, Rejection)
    assert reason in parsed.reason


def test_missing_value_is_rejected() -> None:
    parsed = parse(record(None, request_headers()))
    assert isinstance(parsed, Rejection)
    assert parsed.reason == "empty value"


def test_key_that_differs_from_customer_id_is_rejected() -> None:
    parsed = parse(record(request_value("c1"), request_headers(), key=b"c2"))
    assert isinstance(parsed, Rejection)
    assert "key" in parsed.reason


def _without(name: str) -> list[tuple[str, bytes]]:
    return [h for h in request_headers() if h[0] != name]


@pytest.mark.parametrize(
    ("headers", "reason", "routable"),
    [
        (_without(Header.CORRELATION_ID), "correlation-id", False),
        (_without(Header.REPLY_PARTITION), "reply-partition", False),
        (request_headers(reply_partition=PARTITIONS), "outside the replies topic", False),
        (request_headers(reply_partition="-1"), "not a decimal", False),
        (request_headers(reply_partition="٣"), "not a decimal", False),
        (request_headers(correlation_id="x" * 300), "longer than", False),
        (request_headers(correlation_id="a\nb"), "control characters", False),
        (_without(Header.DEADLINE), "deadline", True),
        ([*request_headers(), (Header.DEADLINE, b"1")], "more than once", False),
        ([(Header.CORRELATION_ID, b"\xff")], "UTF-8", False),
        ([*_without(Header.CONTRACT_VERSION), (Header.CONTRACT_VERSION, b"9")], "contract", True),
    ],
)
def test_bad_headers_are_rejected(
    headers: list[tuple[str, bytes]], reason: str, routable: bool
) -> None:
    parsed = parse(record(request_value("c1"), headers))
    assert isinstance(parsed, Rejection)
    assert reason in parsed.reason
    assert (parsed.routing is not None) == routable


def test_malformed_traceparent_is_dropped_not_rejected() -> None:
    parsed = parse(request_record("c1", traceparent="not-a-trace"))
    assert isinstance(parsed, InboundRequest)
    assert parsed.routing.traceparent is None


def test_unknown_headers_are_ignored() -> None:
    rec = record(request_value("c1"), [*request_headers(), ("x-extra", b"1"), ("x-extra", b"2")])
    assert isinstance(parse(rec), InboundRequest)


def test_traceparent_is_read_by_the_shared_helper_and_kept_in_lower_case() -> None:
    value = "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01"
    parsed = parse(request_record("c1", traceparent=value))
    assert isinstance(parsed, InboundRequest)
    assert parsed.routing.traceparent == value.lower()
