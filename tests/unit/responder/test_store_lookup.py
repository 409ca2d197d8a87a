"""The store call's bounded retry."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pyarrow as pa
import pytest

from responder.store_lookup import LookupAttempts, RetryPolicy, lookup_with_retry
from store import StoreUnavailable
from tests.support.journey_rows import journeys_table


class HangingStore:
    """A store that never answers (until cancelled)."""

    async def lookup(self, customer_ids: Sequence[str], status: str = "all") -> pa.Table:
        await asyncio.Event().wait()
        raise AssertionError("never answers")


class FailingStore:
    def __init__(self) -> None:
        self.calls = 0

    async def lookup(self, customer_ids: Sequence[str], status: str = "all") -> pa.Table:
        self.calls += 1
        raise StoreUnavailable("down")


async def test_a_store_that_does_not_answer_is_unavailable_after_the_budget() -> None:
    attempts = LookupAttempts()
    with pytest.raises(StoreUnavailable, match="did not answer"):
        await lookup_with_retry(
            HangingStore(), ["c"], budget_s=0.02, policy=RetryPolicy(), attempts=attempts
        )
    assert [outcome for _, outcome in attempts.calls] == ["timeout"]


async def test_no_retry_when_the_backoff_would_overrun_the_budget() -> None:
    store = FailingStore()
    policy = RetryPolicy(attempts=5, backoff_s=10.0)
    with pytest.raises(StoreUnavailable):
        await lookup_with_retry(
            store, ["c"], budget_s=1.0, policy=policy, attempts=LookupAttempts()
        )
    assert store.calls == 1


async def test_retries_stop_after_the_configured_attempts() -> None:
    store = FailingStore()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    with pytest.raises(StoreUnavailable):
        await lookup_with_retry(
            store,
            ["c"],
            budget_s=100.0,
            policy=RetryPolicy(attempts=4, backoff_s=0.1),
            attempts=LookupAttempts(),
            sleep=sleep,
        )
    assert store.calls == 4
    assert slept == [0.1, 0.2, 0.4]


def test_budget_is_clamped_between_the_policy_bounds() -> None:
    policy = RetryPolicy(min_budget_s=0.05, max_budget_s=2.0)
    assert policy.budget(-1.0) == 0.05
    assert policy.budget(0.5) == 0.5
    assert policy.budget(30.0) == 2.0


async def test_successful_lookup_returns_the_table() -> None:
    class Store:
        async def lookup(self, customer_ids: Sequence[str], status: str = "all") -> pa.Table:
            return journeys_table([])

    attempts = LookupAttempts()
    table = await lookup_with_retry(
        Store(), ["c"], budget_s=1.0, policy=RetryPolicy(), attempts=attempts
    )
    assert table.num_rows == 0
    assert [outcome for _, outcome in attempts.calls] == ["ok"]
