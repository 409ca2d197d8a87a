"""The gateway's opt-in micro-cache (api/answer_cache.py): off by default; on, an answer is
served again only within its bound from when its lookup was sent, identical lookups in flight
share one round trip, errors are never kept, and the cache is bounded."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from api.answer_cache import AnswerCache
from api.errors import DeadlineExceeded
from tests.support.fake_kafka import FakeKafka, SentRequest
from tests.support.gateway_app import Gateway, answer_with_journeys


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_off_by_default_every_lookup_is_a_round_trip(gateway: Gateway) -> None:
    for _ in range(3):
        assert (await gateway.lookup("cust-1")).status_code == 200

    assert len(gateway.kafka.sent) == 3


async def test_on_a_repeated_lookup_within_the_bound_is_answered_without_kafka(
    start_gateway: Callable[..., Any],
) -> None:
    gateway: Gateway = await start_gateway(micro_cache_ms=60_000)

    first = await gateway.lookup("cust-1")
    again = await gateway.lookup("cust-1")
    closed = await gateway.lookup("cust-1", params={"status": "closed"})

    assert len(gateway.kafka.sent) == 2  # cust-1/open once, cust-1/closed once
    assert again.json() == first.json()
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["x-correlation-id"] == first.headers["x-correlation-id"]
    assert "traceparent" not in again.headers  # no Kafka request was sent for it
    assert closed.json()["status"] == "closed"
    assert "journeys_gateway_micro_cache_hits_total 1.0" in await gateway.metrics()


async def test_on_an_answer_older_than_the_bound_is_never_served(
    start_gateway: Callable[..., Any],
) -> None:
    gateway: Gateway = await start_gateway(micro_cache_ms=20)

    await gateway.lookup("cust-1")
    await asyncio.sleep(0.05)  # past the bound
    await gateway.lookup("cust-1")

    assert len(gateway.kafka.sent) == 2


async def test_on_identical_lookups_in_flight_share_one_round_trip(
    start_gateway: Callable[..., Any],
) -> None:
    def slow(request: SentRequest) -> bytes | None:
        return None  # replies are delivered by the test once all lookups wait

    kafka = FakeKafka(respond=slow)
    gateway: Gateway = await start_gateway(kafka=kafka, micro_cache_ms=60_000)
    lookups = [asyncio.create_task(gateway.lookup("cust-1")) for _ in range(5)]
    await asyncio.wait_for(kafka.wait_sent(1), 5)
    await asyncio.sleep(0.01)
    [sent] = kafka.sent
    kafka.deliver(sent.correlation_id, answer_with_journeys(sent))

    answers = await asyncio.wait_for(asyncio.gather(*lookups), 5)

    assert {a.status_code for a in answers} == {200}
    assert len(kafka.sent) == 1
    assert "journeys_gateway_micro_cache_shared_total 4.0" in await gateway.metrics()


async def test_an_error_is_shared_with_the_lookups_waiting_but_never_kept() -> None:
    cache: AnswerCache[str] = AnswerCache(60.0, 10)
    calls = 0
    release = asyncio.Event()

    async def failing() -> str:
        nonlocal calls
        calls += 1
        await release.wait()
        raise DeadlineExceeded("no reply")

    waiting = [asyncio.create_task(cache.get(("c", "open"), failing)) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)

    assert calls == 1
    assert all(isinstance(o, DeadlineExceeded) for o in outcomes)
    assert len(cache) == 0

    async def succeeding() -> str:
        return "answer"

    assert await cache.get(("c", "open"), succeeding) == "answer"


async def test_the_bound_counts_from_when_the_lookup_was_sent_not_when_it_came_back() -> None:
    clock = Clock()
    cache: AnswerCache[str] = AnswerCache(1.0, 10, clock=clock)

    async def slow_lookup() -> str:
        clock.now += 0.8  # the round trip took 0.8 s of the 1 s bound
        return "v1"

    async def fresh_lookup() -> str:
        return "v2"

    assert await cache.get(("c", "open"), slow_lookup) == "v1"
    clock.now += 0.19
    assert await cache.get(("c", "open"), fresh_lookup) == "v1"  # 0.99 s after it was sent
    clock.now += 0.02
    assert await cache.get(("c", "open"), fresh_lookup) == "v2"  # 1.01 s: refetched


async def test_the_cache_keeps_at_most_its_entries_the_oldest_go_first() -> None:
    cache: AnswerCache[str] = AnswerCache(60.0, 3)
    fetched: list[str] = []

    def lookup_of(customer: str) -> Callable[[], Any]:
        async def lookup() -> str:
            fetched.append(customer)
            return customer

        return lookup

    for customer in ["a", "b", "c", "d", "a"]:
        await cache.get((customer, "open"), lookup_of(customer))

    assert len(cache) == 3
    assert fetched == ["a", "b", "c", "d", "a"]  # "a" went first, so it was fetched again


async def test_a_lookup_waiting_for_one_its_caller_cancelled_goes_on_alone() -> None:
    cache: AnswerCache[str] = AnswerCache(60.0, 10)
    started = asyncio.Event()

    async def never() -> str:
        started.set()
        await asyncio.Event().wait()
        return "never"

    async def answer() -> str:
        return "answer"

    owner = asyncio.create_task(cache.get(("c", "open"), never))
    await started.wait()
    waiter = asyncio.create_task(cache.get(("c", "open"), answer))
    await asyncio.sleep(0)
    owner.cancel()

    assert await asyncio.wait_for(waiter, 5) == "answer"
    with pytest.raises(asyncio.CancelledError):
        await owner
