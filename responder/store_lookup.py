"""A batch's store lookups (one per status filter), retried within the requests' deadlines."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import pyarrow as pa

from store import StoreError, StoreUnavailable


class JourneyLookup(Protocol):
    """What the responder needs from the store (``store.AsyncStoreClient``)."""

    async def lookup(self, customer_ids: Sequence[str], status: str = "all") -> pa.Table:
        """The journeys of ``customer_ids`` as an Arrow table of ``JOURNEY_SCHEMA``."""
        ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try: attempts, the pause before each retry, and the time budget bounds."""

    attempts: int = 3
    backoff_s: float = 0.05
    min_budget_s: float = 0.05
    max_budget_s: float = 2.0

    def budget(self, seconds_left: float) -> float:
        """The time allowed for the whole lookup, retries included, given the time left."""
        return min(self.max_budget_s, max(self.min_budget_s, seconds_left))


@dataclass(slots=True)
class LookupAttempts:
    """What happened on the way: one (seconds, outcome) per store call."""

    calls: list[tuple[float, str]] = field(default_factory=list)


async def lookup_with_retry(
    store: JourneyLookup,
    customer_ids: Sequence[str],
    *,
    status: str = "all",
    budget_s: float,
    policy: RetryPolicy,
    attempts: LookupAttempts,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> pa.Table:
    """Look up ``customer_ids`` (rows of ``status``), retrying retriable errors within ``budget_s``.

    Raises the last :class:`StoreError`; a call that does not finish within the budget raises
    :class:`StoreUnavailable`.
    """
    give_up_at = clock() + budget_s
    for attempt in range(1, policy.attempts + 1):
        left = give_up_at - clock()
        started = clock()
        try:
            async with asyncio.timeout(max(left, 0.001)):
                table = await store.lookup(customer_ids, status)
        except TimeoutError as exc:
            attempts.calls.append((clock() - started, "timeout"))
            raise StoreUnavailable(f"the store did not answer within {budget_s:.3f}s") from exc
        except StoreError as exc:
            attempts.calls.append((clock() - started, "error"))
            retry_in = policy.backoff_s * 2 ** (attempt - 1)
            if not exc.retriable or attempt == policy.attempts:
                raise
            if clock() + retry_in >= give_up_at:
                raise
            await sleep(retry_in)
        else:
            attempts.calls.append((clock() - started, "ok"))
            return table
    raise AssertionError("unreachable: the last attempt returns or raises")
