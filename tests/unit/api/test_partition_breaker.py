"""Rerouting around a silent request partition: strikes open it, a probe per interval closes it."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiokafka.partitioner import DefaultPartitioner

from api.partition_breaker import BreakerConfig, PartitionBreaker, key_hash, key_partition
from tests.support.fake_kafka import FakeKafka, SentRequest
from tests.support.gateway_app import answer_with_journeys
from tests.unit.api.test_hedging import counter

FAST: dict[str, Any] = {
    "hedge_delay_floor_ms": 10,
    "hedge_delay_ceiling_ms": 30,
    "request_timeout_ms": 1_000,
    "reroute_after_strikes": 3,
    "reroute_probe_interval_ms": 60_000,
}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def silent_on(partitions: set[int]) -> Callable[[SentRequest], bytes | None]:
    """A fake responder fleet where nobody serves ``partitions`` (a set the test may change)."""

    def respond(request: SentRequest) -> bytes | None:
        return None if request.partition in partitions else answer_with_journeys(request)

    return respond


def spread_target(key: bytes, dead: int, partitions: int = 8) -> int:
    """Where the breaker sends ``key``'s requests while only ``dead`` is avoided."""
    others = [p for p in range(partitions) if p != dead]
    return others[(key_hash(key) // partitions) % len(others)]


def breaker(strikes: int = 3, open_s: float = 1.0) -> tuple[PartitionBreaker, Clock]:
    clock = Clock()
    return PartitionBreaker(BreakerConfig(strikes=strikes, open_s=open_s), clock), clock


def test_the_key_partition_is_the_one_the_producer_picks() -> None:
    for n in range(500):
        key = f"cust-{n:07d}".encode()
        for partitions in (1, 2, 8, 12):
            assert key_partition(key, partitions) == DefaultPartitioner()(
                key, list(range(partitions)), []
            )


def test_consecutive_strikes_open_a_partition_and_its_requests_go_elsewhere() -> None:
    b, _ = breaker(strikes=3)
    for _ in range(2):
        b.struck(2, 8)
    assert b.route(2, 8, spread=0) == 2
    b.struck(2, 8)
    assert b.open_partitions() == [2]
    assert b.route(2, 8, spread=0) == 0
    assert b.route(2, 8, spread=2) == 3
    assert b.route(5, 8, spread=0) == 5


def test_an_answer_clears_the_strikes() -> None:
    b, _ = breaker(strikes=3)
    for _ in range(10):
        b.struck(4, 8)
        b.struck(4, 8)
        b.answered(4)
    assert not b.any_open()
    assert b.route(4, 8, spread=0) == 4


def test_one_request_per_interval_probes_the_open_partition_and_an_answer_closes_it() -> None:
    b, clock = breaker(strikes=1, open_s=1.0)
    b.struck(0, 4)
    assert b.route(0, 4, spread=0) == 1
    clock.now += 1.0
    assert b.route(0, 4, spread=0) == 0  # the probe
    assert b.route(0, 4, spread=0) == 1  # the others keep avoiding it while the probe is out
    b.struck(0, 4)  # the probe lost to its hedge: still open
    assert b.route(0, 4, spread=0) == 1
    clock.now += 1.0
    assert b.route(0, 4, spread=0) == 0
    b.answered(0)
    assert b.route(0, 4, spread=0) == 0
    assert not b.any_open()


def test_reroutes_and_hedges_skip_every_open_partition() -> None:
    b, _ = breaker(strikes=1)
    b.struck(1, 8)
    b.struck(2, 8)
    assert {b.route(1, 8, spread) for spread in range(100)} == {0, 3, 4, 5, 6, 7}
    assert b.next_closed(0, 8) == 3
    assert b.next_closed(7, 8) == 0


def test_an_open_partitions_requests_are_spread_over_every_partition_still_answering() -> None:
    # Partitions 1-4 of 8 avoided: their keys go to 0, 5, 6 and 7 in equal shares (the old
    # breaker sent them all to 5, which then carried 5x its share).
    b, _ = breaker(strikes=1)
    for partition in (1, 2, 3, 4):
        b.struck(partition, 8)
    load: Counter[int] = Counter()
    for n in range(80_000):
        hashed = key_hash(f"cust-{n:07d}".encode())
        load[b.route(hashed % 8, 8, hashed // 8)] += 1
    assert set(load) == {0, 5, 6, 7}
    assert max(load.values()) / min(load.values()) < 1.1


def test_at_most_half_the_partitions_are_avoided_when_everything_is_slow() -> None:
    b, _ = breaker(strikes=1)
    for partition in range(8):
        b.struck(partition, 8)
    assert len(b.open_partitions()) == 4


def test_zero_strikes_never_reroutes() -> None:
    b, _ = breaker(strikes=0)
    for _ in range(100):
        b.struck(3, 8)
    assert not b.any_open()


async def test_a_silent_partition_is_hedged_a_few_times_then_its_requests_go_elsewhere(
    start_gateway: Any,
) -> None:
    dead = key_partition(b"cust-1", 8)
    dead_partition = silent_on({dead})
    gateway = await start_gateway(kafka=FakeKafka(respond=dead_partition), **FAST)

    statuses = [(await gateway.lookup("cust-1")).status_code for _ in range(10)]

    assert statuses == [200] * 10
    sent = gateway.kafka.sent
    # Three first copies to the dead partition, each answered by its hedge ...
    assert [(r.partition, r.is_hedge) for r in sent[:6]] == [
        (dead, False),
        ((dead + 1) % 8, True),
    ] * 3
    first_copies = [r for r in sent if not r.is_hedge]
    assert [r.partition for r in first_copies[:3]] == [dead] * 3
    assert sum(r.is_hedge for r in sent) == 3
    # ... then one send each, straight to another partition, no hedge.
    assert [r.partition for r in first_copies[3:]] == [spread_target(b"cust-1", dead)] * 7
    metrics = await gateway.metrics()
    assert counter(metrics, "journeys_gateway_rerouted_requests") == 7
    assert "journeys_gateway_avoided_partitions 1.0" in metrics


async def test_a_partition_that_answers_its_probe_gets_its_requests_back(
    start_gateway: Any,
) -> None:
    dead = {key_partition(b"cust-1", 8)}
    gateway = await start_gateway(
        kafka=FakeKafka(respond=silent_on(dead)), **{**FAST, "reroute_probe_interval_ms": 10}
    )
    for _ in range(3):
        assert (await gateway.lookup("cust-1")).status_code == 200
    assert gateway.state.requester.breaker.any_open()

    dead.clear()  # the group rebalanced: a live responder owns the partition again
    await asyncio.sleep(0.02)
    assert (await gateway.lookup("cust-1")).status_code == 200  # the probe, answered

    assert not gateway.state.requester.breaker.any_open()
    assert "journeys_gateway_avoided_partitions 0.0" in await gateway.metrics()


async def test_with_rerouting_off_every_request_waits_for_its_hedge(start_gateway: Any) -> None:
    dead = key_partition(b"cust-1", 8)
    dead_partition = silent_on({dead})
    gateway = await start_gateway(
        kafka=FakeKafka(respond=dead_partition), **{**FAST, "reroute_after_strikes": 0}
    )
    for _ in range(6):
        assert (await gateway.lookup("cust-1")).status_code == 200
    assert sum(r.is_hedge for r in gateway.kafka.sent) == 6


async def test_unanswered_first_copies_count_as_strikes_when_hedging_is_off(
    start_gateway: Any,
) -> None:
    dead = key_partition(b"cust-1", 8)
    dead_partition = silent_on({dead})
    gateway = await start_gateway(
        kafka=FakeKafka(respond=dead_partition),
        **{**FAST, "hedge_enabled": False, "request_timeout_ms": 100},
    )

    statuses = [(await gateway.lookup("cust-1")).status_code for _ in range(5)]

    assert statuses == [504, 504, 504, 200, 200]
    assert [r.partition for r in gateway.kafka.sent] == [dead] * 3 + [
        spread_target(b"cust-1", dead)
    ] * 2
