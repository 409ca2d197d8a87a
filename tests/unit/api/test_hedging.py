"""Hedged requests: a slow first copy gets a second one on another partition; first reply wins."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from api.errors import KafkaUnavailable
from api.hedging import MIN_SAMPLES, HedgeConfig, Hedger
from tests.support.fake_kafka import FakeKafka, SentRequest
from tests.support.gateway_app import answer_with_journeys

FAST_HEDGE: dict[str, Any] = {
    "hedge_delay_floor_ms": 10,
    "hedge_delay_ceiling_ms": 30,
    "request_timeout_ms": 1_000,
}


def only_hedges(request: SentRequest) -> bytes | None:
    """A responder behind the key's partition is stalled; the next partition's answers."""
    return answer_with_journeys(request) if request.is_hedge else None


def counter(metrics: str, name: str, label: str = "") -> float:
    match = re.search(rf"^{name}_total{re.escape(label)} (\S+)$", metrics, re.MULTILINE)
    assert match, f"{name}_total{label} not exposed"
    return float(match.group(1))


async def test_a_stalled_partition_is_hedged_to_the_next_one_and_the_hedge_answers(
    start_gateway: Any,
) -> None:
    gateway = await start_gateway(kafka=FakeKafka(respond=only_hedges), **FAST_HEDGE)

    response = await gateway.lookup("cust-1")

    assert response.status_code == 200
    assert [j["journey_id"] for j in response.json()["journeys"]] == ["j-c", "j-a", "j-b"]
    first, hedge = gateway.kafka.sent
    assert hedge.correlation_id == first.correlation_id
    assert hedge.value == first.value
    assert hedge.key == first.key
    assert hedge.headers["deadline"] == first.headers["deadline"]
    assert hedge.partition == (first.partition + 1) % 8
    assert hedge.is_hedge
    assert not first.is_hedge
    metrics = await gateway.metrics()
    assert counter(metrics, "journeys_gateway_hedges_sent") == 1
    assert counter(metrics, "journeys_gateway_hedges_won") == 1


async def test_a_prompt_reply_is_not_hedged(start_gateway: Any) -> None:
    gateway = await start_gateway(**FAST_HEDGE)

    for _ in range(5):
        assert (await gateway.lookup("cust-1")).status_code == 200

    assert len(gateway.kafka.sent) == 5
    assert counter(await gateway.metrics(), "journeys_gateway_hedges_sent") == 0


async def test_the_second_reply_to_a_hedged_request_is_dropped_as_a_duplicate(
    start_gateway: Any,
) -> None:
    gateway = await start_gateway(kafka=FakeKafka(respond=only_hedges), **FAST_HEDGE)
    assert (await gateway.lookup("cust-1")).status_code == 200
    first = gateway.kafka.sent[0]

    outcome = gateway.kafka.deliver(first.correlation_id, answer_with_journeys(first))

    assert outcome == "duplicate"
    metrics = await gateway.metrics()
    assert counter(metrics, "journeys_gateway_dropped_replies", '{reason="duplicate"}') == 1


async def test_a_first_copy_answering_after_the_hedge_was_sent_is_not_a_hedge_win(
    start_gateway: Any,
) -> None:
    kafka = FakeKafka()
    gateway = await start_gateway(kafka=kafka, **FAST_HEDGE)

    async def answer_first_copy_once_hedged() -> None:
        await kafka.wait_sent(2)
        first = kafka.sent[0]
        kafka.deliver(first.correlation_id, answer_with_journeys(first))

    answering = asyncio.create_task(answer_first_copy_once_hedged())
    response = await gateway.lookup("cust-1")
    await answering

    assert response.status_code == 200
    metrics = await gateway.metrics()
    assert counter(metrics, "journeys_gateway_hedges_sent") == 1
    assert counter(metrics, "journeys_gateway_hedges_won") == 0


async def test_with_hedging_off_a_stalled_partition_means_a_504(start_gateway: Any) -> None:
    gateway = await start_gateway(
        kafka=FakeKafka(respond=only_hedges),
        **{**FAST_HEDGE, "request_timeout_ms": 200, "hedge_enabled": False},
    )

    response = await gateway.lookup("cust-1")

    assert response.status_code == 504
    assert len(gateway.kafka.sent) == 1


async def test_the_budget_bounds_how_many_hedges_are_sent(start_gateway: Any) -> None:
    gateway = await start_gateway(
        kafka=FakeKafka(respond=lambda request: None),
        **{**FAST_HEDGE, "request_timeout_ms": 100},
        hedge_budget_burst=2,
        hedge_budget_ratio=0.0,
    )

    statuses = [(await gateway.lookup(f"cust-{n}")).status_code for n in range(5)]

    assert statuses == [504] * 5
    assert sum(request.is_hedge for request in gateway.kafka.sent) == 2
    metrics = await gateway.metrics()
    assert counter(metrics, "journeys_gateway_hedges_sent") == 2
    assert counter(metrics, "journeys_gateway_hedges_skipped", '{reason="budget"}') == 3


async def test_a_hedge_that_kafka_refuses_leaves_the_first_copy_waiting(
    start_gateway: Any,
) -> None:
    kafka = FakeKafka()
    gateway = await start_gateway(kafka=kafka, **{**FAST_HEDGE, "request_timeout_ms": 100})
    original_send = kafka.send

    async def refuse_hedges(key: bytes, value: bytes, headers: Any, partition: Any = None) -> int:
        if ("hedge", b"1") in headers:
            raise KafkaUnavailable("broker down")
        sent: int = await original_send(key, value, headers, partition)
        return sent

    kafka.send = refuse_hedges  # type: ignore[method-assign]

    response = await gateway.lookup("cust-1")

    assert response.status_code == 504  # the first copy was never answered: a timeout, not 503
    metrics = await gateway.metrics()
    assert counter(metrics, "journeys_gateway_hedges_skipped", '{reason="send_failed"}') == 1


def test_the_delay_is_the_ceiling_until_enough_round_trips_are_known() -> None:
    hedger = Hedger(HedgeConfig(floor_s=0.05, ceiling_s=0.4))
    for _ in range(MIN_SAMPLES - 1):
        hedger.observe(0.01)
    assert hedger.delay_s() == 0.4


@pytest.mark.parametrize(
    ("round_trip_s", "expected_s"),
    [(0.001, 0.05), (0.2, 0.2), (3.0, 0.4)],
    ids=["clamped-to-floor", "recent-p95", "clamped-to-ceiling"],
)
def test_the_delay_is_the_recent_p95_within_floor_and_ceiling(
    round_trip_s: float, expected_s: float
) -> None:
    hedger = Hedger(HedgeConfig(floor_s=0.05, ceiling_s=0.4))
    for _ in range(95):
        hedger.observe(round_trip_s)
    for _ in range(5):
        hedger.observe(10.0)  # the slowest 5 % do not set the delay
    assert hedger.delay_s() == pytest.approx(expected_s)


def test_each_request_earns_a_tenth_of_a_hedge_up_to_the_burst() -> None:
    hedger = Hedger(HedgeConfig(ratio=0.1, burst=3.0))
    assert [hedger.try_spend() for _ in range(4)] == [True, True, True, False]
    for _ in range(10):
        hedger.earn()
    assert hedger.try_spend() is True
    assert hedger.try_spend() is False
    for _ in range(1_000):
        hedger.earn()
    assert hedger.tokens == 3.0


async def test_a_hedge_send_that_stalls_does_not_hide_the_first_copys_reply(
    start_gateway: Any,
) -> None:
    # The hedge's partition has no leader: its send hangs until the deadline. The first copy's
    # reply arrives meanwhile and is the answer (today's bug: a 504 at the deadline).
    kafka = FakeKafka(respond=lambda request: None)
    gateway = await start_gateway(kafka=kafka, **{**FAST_HEDGE, "request_timeout_ms": 2_000})
    original_send = kafka.send
    hedge_sending = asyncio.Event()

    async def stall_hedges(key: bytes, value: bytes, headers: Any, partition: Any = None) -> int:
        if ("hedge", b"1") in headers:
            hedge_sending.set()
            await asyncio.Event().wait()  # no leader: never acknowledged
        sent: int = await original_send(key, value, headers, partition)
        return sent

    kafka.send = stall_hedges  # type: ignore[method-assign]

    async def answer_first_copy_while_the_hedge_hangs() -> None:
        async with asyncio.timeout(5):
            await hedge_sending.wait()
            await kafka.wait_sent(1)
        first = kafka.sent[0]
        kafka.deliver(first.correlation_id, answer_with_journeys(first))

    answering = asyncio.create_task(answer_first_copy_while_the_hedge_hangs())
    response = await gateway.lookup("cust-1")
    await answering

    assert response.status_code == 200
