"""The gateway's opt-in micro-cache of lookup answers (off by default).

With ``JOURNEYS_GATEWAY_MICRO_CACHE_MS`` above 0, an answer (a 200) is kept per
``(customer_id, status)`` and served again to lookups that come within that many milliseconds
**of when its lookup was sent**: the store was read after that moment, so an answer served from
the cache is never older than the setting. Identical lookups in flight at once share one round
trip (Zipf traffic asks for the same hot customers together): the later ones wait for the first
one's answer, or its error. Errors are never kept. At most ``MICRO_CACHE_ENTRIES`` answers are
kept (the oldest go first), so the cache is bounded whatever customers are asked for.

A served answer keeps the correlation id of the round trip that fetched it (the
``X-Correlation-Id`` header names the Kafka request that was answered), and the caller's trace
context. Off, every lookup is its own round trip, as before.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

_T = TypeVar("_T")
Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class _Kept(Generic[_T]):
    answer: _T
    sent_at: float


class AnswerCache(Generic[_T]):
    """Answers kept for ``ttl_s`` from their lookup's start, and lookups in flight shared."""

    def __init__(
        self,
        ttl_s: float,
        max_entries: int,
        *,
        on_hit: Callable[[], None] = lambda: None,
        on_shared: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._on_hit = on_hit
        self._on_shared = on_shared
        self._clock = clock
        self._kept: OrderedDict[Key, _Kept[_T]] = OrderedDict()
        self._in_flight: dict[Key, asyncio.Future[_T]] = {}

    @property
    def enabled(self) -> bool:
        return self._ttl_s > 0

    def __len__(self) -> int:
        return len(self._kept)

    async def get(self, key: Key, lookup: Callable[[], Awaitable[_T]]) -> _T:
        """A kept answer for ``key`` younger than the TTL, the answer of the same lookup in
        flight, or ``lookup()``'s (kept when it succeeds)."""
        if not self.enabled:
            return await lookup()
        now = self._clock()
        kept = self._kept.get(key)
        if kept is not None:
            if now - kept.sent_at < self._ttl_s:
                self._on_hit()
                return kept.answer
            del self._kept[key]
        shared = self._in_flight.get(key)
        if shared is not None:
            self._on_shared()
            try:
                return await asyncio.shield(shared)
            except asyncio.CancelledError:
                if not shared.cancelled():
                    raise  # this caller was cancelled
                # The lookup shared was cancelled by its own caller: this one goes on alone.
                now = self._clock()
        return await self._fetch(key, lookup, now)

    async def _fetch(self, key: Key, lookup: Callable[[], Awaitable[_T]], sent_at: float) -> _T:
        future: asyncio.Future[_T] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            answer = await lookup()
        except BaseException as exc:
            if not isinstance(exc, asyncio.CancelledError):
                future.set_exception(exc)
                future.exception()  # retrieved: nobody else may be waiting
            else:
                future.cancel()
            raise
        finally:
            self._in_flight.pop(key, None)
        future.set_result(answer)
        self._keep(key, _Kept(answer, sent_at))
        return answer

    def _keep(self, key: Key, kept: _Kept[_T]) -> None:
        self._kept[key] = kept
        self._kept.move_to_end(key)
        while len(self._kept) > self._max_entries:
            self._kept.popitem(last=False)
