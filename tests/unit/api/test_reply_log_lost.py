"""A broker that loses the reply log under waiting lookups: they are sent again, not left to 504."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tests.support.fake_kafka import FakeKafka, SentRequest
from tests.support.gateway_app import answer_with_journeys


def answer_from_the_second_send() -> Callable[[SentRequest], bytes | None]:
    """A responder whose first copy of each request is lost with the log."""
    seen: set[str] = set()

    def respond(request: SentRequest) -> bytes | None:
        if request.correlation_id not in seen:
            seen.add(request.correlation_id)
            return None
        return answer_with_journeys(request)

    return respond


async def test_a_waiting_lookup_is_sent_again_when_the_reply_log_is_lost(
    start_gateway: Callable[..., Any],
) -> None:
    kafka = FakeKafka(respond=answer_from_the_second_send())
    gateway = await start_gateway(kafka=kafka)
    lookup = asyncio.create_task(gateway.lookup("cust-1"))
    await asyncio.wait_for(kafka.wait_sent(1), timeout=5)

    assert gateway.state.router.replies_lost() == 1

    response = await asyncio.wait_for(lookup, timeout=5)
    assert response.status_code == 200
    first, second = kafka.sent
    assert (second.correlation_id, second.headers) == (first.correlation_id, first.headers)
    assert second.value == first.value
    assert "journeys_gateway_resent_requests_total 1.0" in await gateway.metrics()


async def test_a_lookup_whose_log_keeps_being_lost_gets_504_not_a_loop(
    start_gateway: Callable[..., Any],
) -> None:
    kafka = FakeKafka(respond=lambda _request: None)
    gateway = await start_gateway(kafka=kafka)
    lookup = asyncio.create_task(gateway.lookup("cust-1"))
    for sends in (1, 2, 3):
        await asyncio.wait_for(kafka.wait_sent(sends), timeout=5)
        gateway.state.router.replies_lost()

    response = await asyncio.wait_for(lookup, timeout=5)
    assert response.status_code == 504
    assert "no reply within" in response.json()["detail"]
    assert len(kafka.sent) == 3  # the first send and MAX_RESENDS = 2 more
