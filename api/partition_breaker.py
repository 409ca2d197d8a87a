"""Stop sending first copies to a request partition that has stopped answering.

Hedging (:mod:`api.hedging`) rescues one slow request at the price of a second send. When a
responder has crashed, though, *every* request keyed to its partitions is slow: each waits out
the hedge delay and spends a hedge, until the group notices the crash (the session timeout,
10 s by default on Apache Kafka) and rebalances. At a few hundred requests per second that
spends the whole hedge budget within seconds, and from then on those requests time out (504).
A circuit breaker per request partition turns that into rerouting, which costs nothing extra:

* a first copy sent to partition ``p`` that is answered by its hedge, or not at all by the
  deadline, is a **strike** against ``p``; an answer to a first copy clears ``p``'s strikes;
* after ``strikes`` consecutive strikes ``p`` is **open** for ``open_s``: first copies keyed to
  ``p`` go straight to the next partition that is not open (one send, no wait, no hedge);
* when that period is over, the next request keyed to ``p`` **probes** it (sent there, hedged
  as usual) and ``p`` stays open for another period meanwhile; an answer to the probe closes
  ``p``. Once the group has rebalanced, a live responder owns ``p`` and the next probe closes it;
* at most ``max_open_fraction`` of the partitions are open at once: when every partition is
  slow (the whole fleet is), rerouting would only move load around, so the breaker stays out of
  the way and the hedge budget alone bounds the extra load.

A rerouted request carries no special header: to the responder it is a request like any other
(lookups are read-only, any responder may answer any customer).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka.partitioner import murmur2


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """The knobs of :class:`PartitionBreaker` (from :class:`api.settings.GatewaySettings`)."""

    strikes: int = 5  # 0: never open a partition
    open_s: float = 1.0
    max_open_fraction: float = 0.5


class PartitionBreaker:
    """Which partition a first copy goes to, from what recent first copies met."""

    def __init__(
        self,
        config: BreakerConfig,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[int], None] | None = None,
    ) -> None:
        """``on_change(count)`` is called with the number of open partitions when it changes."""
        self._config = config
        self._clock = clock
        self._on_change = on_change
        self._strikes: dict[int, int] = {}
        self._open_until: dict[int, float] = {}

    def any_open(self) -> bool:
        """True while some partition is open (the fast path skips routing otherwise)."""
        return bool(self._open_until)

    def open_partitions(self) -> list[int]:
        """The partitions first copies avoid right now (or probe)."""
        return sorted(self._open_until)

    def route(self, primary: int, partitions: int, spread: int) -> int:
        """The partition a first copy keyed to ``primary`` goes to (``primary`` when closed).

        An open partition's requests are spread over all the partitions that are not open, by
        ``spread`` (from the key's hash), so no single survivor takes them all.
        """
        until = self._open_until.get(primary)
        if until is None:
            return primary
        now = self._clock()
        if now >= until:
            # This request probes the partition; the others keep avoiding it meanwhile.
            self._open_until[primary] = now + self._config.open_s
            return primary
        return self.spread(primary, partitions, spread)

    def spread(self, avoid: int, partitions: int, spread: int) -> int:
        """One of the partitions other than ``avoid`` that are not open, chosen by ``spread``
        (the same key always gets the same one); ``(avoid + 1) % n`` when all are open."""
        candidates = [p for p in range(partitions) if p != avoid and p not in self._open_until]
        if not candidates:
            return (avoid + 1) % partitions
        return candidates[spread % len(candidates)]

    def next_closed(self, after: int, partitions: int) -> int:
        """The first partition after ``after`` (wrapping) that is not open; ``(after + 1) % n``
        when all others are open. Hedges go there too.
        """
        for step in range(1, partitions):
            candidate = (after + step) % partitions
            if candidate not in self._open_until:
                return candidate
        return (after + 1) % partitions

    def answered(self, partition: int) -> None:
        """A first copy sent to ``partition`` was answered: it is healthy."""
        self._strikes.pop(partition, None)
        if self._open_until.pop(partition, None) is not None:
            self._changed()

    def struck(self, partition: int, partitions: int) -> None:
        """A first copy sent to ``partition`` was answered by its hedge or not at all."""
        config = self._config
        count = self._strikes.get(partition, 0) + 1
        self._strikes[partition] = count
        if config.strikes <= 0 or count < config.strikes or partition in self._open_until:
            return
        if len(self._open_until) + 1 > config.max_open_fraction * partitions:
            return
        self._open_until[partition] = self._clock() + config.open_s
        self._changed()

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(len(self._open_until))


def key_hash(key: bytes) -> int:
    """The key's hash as Kafka's default partitioner (murmur2, as aiokafka's and Java's) uses
    it: the key's partition is ``key_hash(key) % partitions``."""
    hashed: int = murmur2(key)
    return hashed & 0x7FFFFFFF


def key_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for ``key``."""
    return key_hash(key) % partitions
