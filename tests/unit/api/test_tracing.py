"""The gateway's trace: a server span per request, continued from the caller's traceparent, and
one JSON log line per request with its correlation id and trace id."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from journeys.contract import Header
from tests.support.fake_kafka import FakeKafka
from tests.support.gateway_app import API_KEY, Gateway
from tests.support.log_fixtures import JsonLogs

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
FORMAT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


def _sent_traceparent(gateway: Gateway) -> str:
    value: str = gateway.kafka.sent[-1].headers[Header.TRACEPARENT]
    return value


async def test_a_valid_traceparent_keeps_trace_id_and_flags_with_a_new_parent_id(
    gateway: Gateway,
) -> None:
    await gateway.lookup("cust-1", headers={"traceparent": VALID})
    out = _sent_traceparent(gateway)

    assert FORMAT.match(out)
    assert out.split("-")[1] == TRACE_ID
    assert out.endswith("-01")
    assert out.split("-")[2] != "00f067aa0ba902b7"


async def test_an_unsampled_caller_trace_stays_unsampled(gateway: Gateway) -> None:
    await gateway.lookup("cust-1", headers={"traceparent": VALID[:-2] + "00"})

    assert _sent_traceparent(gateway).endswith("-00")


async def test_upper_case_is_accepted_and_normalised(gateway: Gateway) -> None:
    await gateway.lookup("cust-1", headers={"traceparent": VALID.upper()})

    assert _sent_traceparent(gateway).split("-")[1] == TRACE_ID


@pytest.mark.parametrize(
    "incoming",
    [
        None,
        "",
        "garbage",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        VALID + "-extra",
    ],
)
async def test_an_absent_or_invalid_traceparent_starts_a_new_sampled_trace(
    gateway: Gateway, incoming: str | None
) -> None:
    headers = {} if incoming is None else {"traceparent": incoming}
    await gateway.lookup("cust-1", headers=headers)
    out = _sent_traceparent(gateway)

    assert FORMAT.match(out)
    assert int(out[-2:], 16) & 0x01  # sampled (0x02, "random trace id", may be set too)
    assert out.split("-")[1] != TRACE_ID


async def test_future_versions_with_extra_fields_are_continued(gateway: Gateway) -> None:
    incoming = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what"
    await gateway.lookup("cust-1", headers={"traceparent": incoming})
    out = _sent_traceparent(gateway)

    assert out.split("-")[1] == TRACE_ID
    assert out.startswith("00-")


async def test_each_request_logs_one_json_line_with_correlation_and_trace_ids(
    gateway: Gateway, json_logs: JsonLogs
) -> None:
    response = await gateway.lookup("cust-1", headers={"traceparent": VALID})

    [line] = json_logs.find(logger="journeys.gateway.requests")
    sent = gateway.kafka.sent[0]
    assert line["correlation_id"] == sent.correlation_id == response.headers["x-correlation-id"]
    assert line["trace_id"] == TRACE_ID
    assert line["span_id"] == sent.headers[Header.TRACEPARENT].split("-")[2]
    assert line["route"] == "/v1/customers/{customer_id}/journeys"
    assert line["status"] == 200
    assert line["method"] == "GET"
    assert line["duration_ms"] >= 0
    assert "cust-1" not in line["message"]


async def test_failed_requests_are_logged_with_their_correlation_id_and_no_api_key(
    start_gateway: Callable[..., Any], json_logs: JsonLogs
) -> None:
    gateway: Gateway = await start_gateway(kafka=FakeKafka(respond=None))
    wrong_key = "not-the-key-" + API_KEY[::-1]
    assert (await gateway.lookup("cust-1")).status_code == 504
    assert (
        await gateway.http.get("/v1/customers/c/journeys", headers={"X-API-Key": wrong_key})
    ).status_code == 401

    timeout, unauthorized = json_logs.find(logger="journeys.gateway.requests")
    assert timeout["status"] == 504
    assert timeout["correlation_id"] == gateway.kafka.sent[0].correlation_id
    assert unauthorized["status"] == 401
    assert "correlation_id" not in unauthorized
    assert API_KEY not in json_logs.text()
    assert wrong_key not in json_logs.text()
