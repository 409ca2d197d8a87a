"""Bounded in-flight lookups (429), deadlines (504) and an unreachable Kafka (503)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from tests.support.fake_kafka import FakeKafka, unavailable_link
from tests.support.gateway_app import Gateway


async def test_beyond_the_in_flight_bound_the_answer_is_429_with_retry_after(
    start_gateway: Callable[..., Any],
) -> None:
    # The responder never answers, so two lookups stay in flight until their deadline.
    gateway: Gateway = await start_gateway(
        kafka=FakeKafka(respond=None), max_in_flight=2, request_timeout_ms=5_000, retry_after_s=3
    )
    waiting = [asyncio.create_task(gateway.lookup(f"cust-{n}")) for n in range(2)]
    await asyncio.wait_for(gateway.kafka.wait_sent(2), timeout=5)
    assert gateway.state.requester.in_flight == 2

    refused = await gateway.lookup("cust-3")

    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "3"
    assert "in flight" in refused.json()["detail"]
    assert len(gateway.kafka.sent) == 2  # the refused one never reached Kafka
    for sent in gateway.kafka.sent:  # answer the two waiting lookups; the bound frees up
        gateway.kafka.deliver(sent.correlation_id, b'{"v":1,"status":"not_found"}')
    answered: list[httpx.Response] = await asyncio.gather(*waiting)
    assert [r.status_code for r in answered] == [404, 404]
    gateway.kafka.respond = lambda _request: b'{"v":1,"status":"not_found"}'
    assert (await gateway.lookup("cust-4")).status_code == 404
    assert gateway.state.requester.in_flight == 0


async def test_no_reply_before_the_deadline_is_504(start_gateway: Callable[..., Any]) -> None:
    gateway: Gateway = await start_gateway(kafka=FakeKafka(respond=None), request_timeout_ms=50)

    response = await gateway.lookup("cust-1")

    assert response.status_code == 504
    assert response.json()["detail"].startswith("no reply within 50 ms")
    assert "retry-after" not in response.headers
    assert gateway.state.router.pending == 0


async def test_a_reply_after_the_deadline_is_dropped_and_counted_late(
    start_gateway: Callable[..., Any],
) -> None:
    gateway: Gateway = await start_gateway(kafka=FakeKafka(respond=None), request_timeout_ms=50)
    await gateway.lookup("cust-1")

    outcome = gateway.kafka.deliver(gateway.kafka.sent[0].correlation_id, b'{"status":"ok"}')

    assert outcome == "late"
    assert 'journeys_gateway_dropped_replies_total{reason="late"} 1.0' in await gateway.metrics()


async def test_not_connected_to_kafka_is_503_at_once(start_gateway: Callable[..., Any]) -> None:
    gateway: Gateway = await start_gateway(
        kafka=FakeKafka(is_connected=False), request_timeout_ms=60_000
    )

    response = await gateway.lookup("cust-1")

    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["detail"] == "the gateway is not connected to Kafka; retry later"
    assert gateway.kafka.sent == []


async def test_kafka_refusing_the_request_is_503(start_gateway: Callable[..., Any]) -> None:
    gateway: Gateway = await start_gateway(kafka=unavailable_link())

    response = await gateway.lookup("cust-1")

    assert response.status_code == 503
    assert "broker down" in response.json()["detail"]
    assert gateway.state.router.pending == 0


async def test_a_producer_blocked_on_a_dead_broker_is_503_at_the_deadline(
    start_gateway: Callable[..., Any],
) -> None:
    gateway: Gateway = await start_gateway(kafka=FakeKafka(send_hangs=True), request_timeout_ms=50)

    response = await gateway.lookup("cust-1")

    assert response.status_code == 503
    assert response.json()["detail"] == (
        "Kafka did not accept the request before its deadline; retry later"
    )
    assert gateway.state.requester.in_flight == 0
