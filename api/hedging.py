"""Hedged requests: ask a second responder when the first one is slow to answer.

A lookup is idempotent, so when no reply has arrived after the *hedge delay* the gateway sends
the same request again — same correlation id, same deadline — to a different partition of the
requests topic, which another responder owns. The first reply wins; the other is dropped by the
:class:`~api.reply_router.ReplyRouter` and counted as a ``duplicate``. This is what makes a
responder that crashed, stalled or is leaving the group invisible to callers.

The delay adapts: it is the recent p95 of round trips, clamped to ``[floor, ceiling]``, so a
healthy fleet is hedged only for its slowest 5 %. A token bucket bounds the extra load: every
request earns ``ratio`` tokens (default 0.1, i.e. ≤ 10 % extra in the long run), a hedge spends
one, and the bucket holds at most ``burst`` tokens, enough to ride out one responder's session
timeout without letting a fleet-wide slowdown double the load for long.

Which partition: the requests topic is keyed by customer id, so the first copy lands on the
key's partition; the hedge goes to the NEXT partition (``(p + 1) mod n``, skipping partitions
the :class:`~api.partition_breaker.PartitionBreaker` avoids). The responders' group uses
round-robin assignment (aiokafka's default), which gives consecutive partitions to different
members whenever there are at least two, so the hedge reaches another responder.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Final

#: Round trips remembered for the adaptive delay.
WINDOW: Final = 512
#: Below this many samples the delay is the ceiling (no evidence yet of what is normal).
MIN_SAMPLES: Final = 20
_RESORT_EVERY: Final = 16


@dataclass(frozen=True, slots=True)
class HedgeConfig:
    """The knobs of :class:`Hedger` (from :class:`api.settings.GatewaySettings`)."""

    enabled: bool = True
    floor_s: float = 0.1
    ceiling_s: float = 0.5
    quantile: float = 0.95
    ratio: float = 0.1
    burst: float = 500.0


class Hedger:
    """Decides when to hedge, to which partition, and whether the budget allows it."""

    def __init__(self, config: HedgeConfig) -> None:
        self._config = config
        self._round_trips: deque[float] = deque(maxlen=WINDOW)
        self._quantile_s: float | None = None
        self._unsorted = 0
        # Start with a full bucket: a responder can die in the first minute too.
        self._tokens = config.burst

    @property
    def enabled(self) -> bool:
        """False when hedging is switched off."""
        return self._config.enabled

    @property
    def tokens(self) -> float:
        """Hedges the budget allows right now."""
        return self._tokens

    def observe(self, round_trip_s: float) -> None:
        """Record the round trip of an answered request."""
        self._round_trips.append(round_trip_s)
        self._unsorted += 1

    def delay_s(self) -> float:
        """How long to wait for a reply before hedging: recent p95, within floor and ceiling."""
        config = self._config
        if len(self._round_trips) < MIN_SAMPLES:
            return config.ceiling_s
        if self._quantile_s is None or self._unsorted >= _RESORT_EVERY:
            # Sorting 512 floats costs ~20 µs: done every few requests, not on each one.
            ordered = sorted(self._round_trips)
            index = min(len(ordered) - 1, math.ceil(config.quantile * len(ordered)) - 1)
            self._quantile_s = ordered[max(index, 0)]
            self._unsorted = 0
        return min(max(self._quantile_s, config.floor_s), config.ceiling_s)

    def earn(self) -> None:
        """A request was sent: it earns ``ratio`` tokens, up to ``burst``."""
        self._tokens = min(self._config.burst, self._tokens + self._config.ratio)

    def try_spend(self) -> bool:
        """Take one token for a hedge; False when the budget is spent."""
        if self._tokens < 1.0 - 1e-9:  # ten earnings of 0.1 add up to 0.999…
            return False
        self._tokens -= 1.0
        return True
