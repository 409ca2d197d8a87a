"""The copies of one request: a failed or stalled send is rerouted or hedged, an ``unavailable``
reply gives another responder its chance, and every such partition earns a strike."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from api.errors import KafkaUnavailable
from api.partition_breaker import key_partition
from tests.support.fake_kafka import FakeKafka, SentRequest, reply_value
from tests.support.gateway_app import answer_with_journeys
from tests.unit.api.test_hedging import FAST_HEDGE, counter

CUSTOMER = "cust-1"
DEAD = key_partition(CUSTOMER.encode(), 8)


def with_send(
    kafka: FakeKafka, refuse: Callable[[int | None, Any], bool], *, hang: bool
) -> list[int | None]:
    """Make ``kafka`` refuse (or never acknowledge, ``hang``) the sends ``refuse`` picks;
    returns the partitions of those sends, as they are tried."""
    original = kafka.send
    refused: list[int | None] = []

    async def send(key: bytes, value: bytes, headers: Any, partition: Any = None) -> int:
        if refuse(partition, headers):
            refused.append(partition)
            if hang:
                await asyncio.Event().wait()  # no leader: never acknowledged
            raise KafkaUnavailable("Kafka refused the request: NotLeaderForPartitionError")
        sent: int = await original(key, value, headers, partition)
        return sent

    kafka.send = send  # type: ignore[method-assign]
    return refused


def to_dead(partition: int | None, headers: Any) -> bool:
    return partition == DEAD


async def test_a_request_whose_partition_refuses_it_is_rerouted_at_once(
    start_gateway: Any,
) -> None:
    kafka = FakeKafka(respond=answer_with_journeys)
    with_send(kafka, to_dead, hang=False)
    gateway = await start_gateway(kafka=kafka, **{**FAST_HEDGE, "hedge_delay_ceiling_ms": 900})

    response = await gateway.lookup(CUSTOMER)

    assert response.status_code == 200
    rerouted = [r for r in kafka.sent if r.partition != DEAD]
    assert len(rerouted) == 1
    assert counter(await gateway.metrics(), "journeys_gateway_rerouted_requests") == 1


async def test_a_partition_that_keeps_refusing_is_avoided(start_gateway: Any) -> None:
    kafka = FakeKafka(respond=answer_with_journeys)
    refused = with_send(kafka, to_dead, hang=False)
    gateway = await start_gateway(
        kafka=kafka, **FAST_HEDGE, reroute_after_strikes=3, reroute_probe_interval_ms=60_000
    )

    statuses = [(await gateway.lookup(CUSTOMER)).status_code for _ in range(6)]

    assert statuses == [200] * 6
    assert gateway.state.requester.breaker.open_partitions() == [DEAD]
    assert refused == [DEAD] * 3  # then the breaker sends them elsewhere directly
    assert all(r.partition != DEAD for r in kafka.sent)


async def test_a_request_whose_send_stalls_is_hedged_and_answered(start_gateway: Any) -> None:
    # The key's partition has no leader: its send hangs. Before: a 503 at the deadline.
    kafka = FakeKafka(respond=answer_with_journeys)
    with_send(kafka, to_dead, hang=True)
    gateway = await start_gateway(kafka=kafka, **FAST_HEDGE)

    response = await gateway.lookup(CUSTOMER)

    assert response.status_code == 200
    assert counter(await gateway.metrics(), "journeys_gateway_hedges_won") == 1


def unavailable_on(partitions: set[int]) -> Callable[[SentRequest], bytes]:
    """Responders on ``partitions`` cannot reach the store; the others answer."""

    def respond(request: SentRequest) -> bytes:
        if request.partition in partitions:
            return reply_value("unavailable", customer_id=request.body["customer_id"])
        return answer_with_journeys(request)

    return respond


async def test_a_quick_unavailable_reply_gives_a_hedge_its_chance(start_gateway: Any) -> None:
    # Before: the first (unavailable) reply won, 503, and the partition counted as healthy.
    kafka = FakeKafka(respond=unavailable_on({DEAD}))
    gateway = await start_gateway(kafka=kafka, **FAST_HEDGE, reroute_after_strikes=2)

    statuses = [(await gateway.lookup(CUSTOMER)).status_code for _ in range(3)]

    assert statuses == [200, 200, 200]
    assert gateway.state.requester.breaker.open_partitions() == [DEAD]


async def test_unavailable_everywhere_is_a_503_not_a_504(start_gateway: Any) -> None:
    kafka = FakeKafka(respond=unavailable_on(set(range(8))))
    gateway = await start_gateway(kafka=kafka, **FAST_HEDGE)

    response = await gateway.lookup(CUSTOMER)

    assert response.status_code == 503
    assert len(kafka.sent) == 2  # the first copy and one hedge, no more
