"""/metrics: requests by route template and status, latency, in-flight, shed, dropped replies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.unit.api.conftest import Gateway
from tests.unit.api.fake_kafka import FakeKafka

ROUTE = "/v1/customers/{customer_id}/journeys"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_requests_are_counted_by_route_template_and_status(gateway: Gateway) -> None:
    await gateway.lookup("cust-1")
    await gateway.lookup("cust-2")
    await gateway.lookup("-bad-")
    await gateway.http.get("/v1/customers/cust-1/journeys")
    await gateway.http.get("/nowhere")

    scraped = samples(await gateway.metrics())

    def requests(route: str, status: str) -> float:
        key = ("journeys_gateway_requests_total", (("route", route), ("status", status)))
        return scraped.get(key, 0.0)

    assert requests(ROUTE, "200") == 2
    assert requests(ROUTE, "422") == 1
    assert requests(ROUTE, "401") == 1
    assert requests("unmatched", "404") == 1
    latency_count = ("journeys_gateway_request_duration_seconds_count", (("route", ROUTE),))
    assert scraped[latency_count] == 4
    assert scraped[("journeys_gateway_in_flight_requests", ())] == 0
    assert scraped[("journeys_gateway_replies_total", ())] == 2


async def test_shed_lookups_are_counted_by_reason(start_gateway: Callable[..., Any]) -> None:
    gateway: Gateway = await start_gateway(kafka=FakeKafka(respond=None), request_timeout_ms=20)
    await gateway.lookup("cust-1")  # 504
    gateway.kafka.is_connected = False
    await gateway.lookup("cust-1")  # 503
    await gateway.http.get("/readyz")  # a 503 readiness answer is not a shed lookup

    scraped = samples(await gateway.metrics())

    shed = "journeys_gateway_shed_requests_total"
    assert scraped[(shed, (("reason", "deadline"),))] == 1
    assert scraped[(shed, (("reason", "unavailable"),))] == 1
    assert scraped[(shed, (("reason", "overloaded"),))] == 0


async def test_unknown_and_duplicate_replies_are_counted(gateway: Gateway) -> None:
    await gateway.lookup("cust-1")
    correlation_id = gateway.kafka.sent[0].correlation_id

    gateway.kafka.deliver(correlation_id, b"{}")
    gateway.kafka.deliver("never-sent-here", b"{}")
    gateway.kafka.deliver(None, b"{}")

    scraped = samples(await gateway.metrics())
    dropped = "journeys_gateway_dropped_replies_total"
    assert scraped[(dropped, (("reason", "duplicate"),))] == 1
    assert scraped[(dropped, (("reason", "unknown"),))] == 1
    assert scraped[(dropped, (("reason", "uncorrelated"),))] == 1
    assert scraped[(dropped, (("reason", "late"),))] == 0


async def test_two_apps_in_one_process_keep_separate_metrics(
    start_gateway: Callable[..., Any],
) -> None:
    first: Gateway = await start_gateway()
    second: Gateway = await start_gateway()
    await first.lookup("cust-1")

    key = ("journeys_gateway_replies_total", ())
    assert samples(await first.metrics())[key] == 1
    assert samples(await second.metrics())[key] == 0
