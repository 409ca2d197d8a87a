"""/metrics: requests by route template and status, latency, in-flight, shed, dropped replies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support.fake_kafka import FakeKafka
from tests.support.gateway_app import Gateway
from tests.support.metrics_scrape import parse

ROUTE = "/v1/customers/{customer_id}/journeys"


async def test_requests_are_counted_by_route_template_and_status(gateway: Gateway) -> None:
    await gateway.lookup("cust-1")
    await gateway.lookup("cust-2")
    await gateway.lookup("-bad-")
    await gateway.http.get("/v1/customers/cust-1/journeys")
    await gateway.http.get("/nowhere")

    scraped = parse(await gateway.metrics())

    def requests(route: str, status: str) -> float:
        return scraped.total("journeys_gateway_requests_total", route=route, status=status)

    assert requests(ROUTE, "200") == 2
    assert requests(ROUTE, "422") == 1
    assert requests(ROUTE, "401") == 1
    assert requests("unmatched", "404") == 1
    latency_count = "journeys_gateway_request_duration_seconds_count"
    assert scraped.value(latency_count, route=ROUTE) == 4
    assert scraped.value("journeys_gateway_in_flight_requests") == 0
    assert scraped.value("journeys_gateway_replies_total") == 2


async def test_shed_lookups_are_counted_by_reason(start_gateway: Callable[..., Any]) -> None:
    gateway: Gateway = await start_gateway(kafka=FakeKafka(respond=None), request_timeout_ms=20)
    await gateway.lookup("cust-1")  # 504
    gateway.kafka.is_connected = False
    await gateway.lookup("cust-1")  # 503
    await gateway.http.get("/readyz")  # a 503 readiness answer is not a shed lookup

    scraped = parse(await gateway.metrics())

    shed = "journeys_gateway_shed_requests_total"
    assert scraped.value(shed, reason="deadline") == 1
    assert scraped.value(shed, reason="unavailable") == 1
    assert scraped.value(shed, reason="overloaded") == 0


async def test_unknown_and_duplicate_replies_are_counted(gateway: Gateway) -> None:
    await gateway.lookup("cust-1")
    correlation_id = gateway.kafka.sent[0].correlation_id

    gateway.kafka.deliver(correlation_id, b"{}")
    gateway.kafka.deliver("never-sent-here", b"{}")
    gateway.kafka.deliver(None, b"{}")

    scraped = parse(await gateway.metrics())
    dropped = "journeys_gateway_dropped_replies_total"
    assert scraped.value(dropped, reason="duplicate") == 1
    assert scraped.value(dropped, reason="unknown") == 1
    assert scraped.value(dropped, reason="uncorrelated") == 1
    assert scraped.value(dropped, reason="late") == 0


async def test_two_apps_in_one_process_keep_separate_metrics(
    start_gateway: Callable[..., Any],
) -> None:
    first: Gateway = await start_gateway()
    second: Gateway = await start_gateway()
    await first.lookup("cust-1")

    replies = "journeys_gateway_replies_total"
    assert parse(await first.metrics()).value(replies) == 1
    assert parse(await second.metrics()).value(replies) == 0
