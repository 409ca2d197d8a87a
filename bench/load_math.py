"""The arithmetic of the load benchmark: arrival schedules, customer skew and percentiles.

Kept free of I/O (and of timing) so a unit test can check it exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

PERCENTILES: tuple[float, ...] = (50.0, 90.0, 99.0, 99.9)


def arrival_offsets(rate: float, duration_s: float) -> np.ndarray:
    """Send times (seconds from the start) of a constant-rate open-loop schedule.

    Request ``i`` is due at ``i / rate``: the schedule never waits for answers, so a slow
    answer cannot delay (and hide) the requests behind it (no coordinated omission).
    """
    if rate <= 0 or duration_s <= 0:
        raise ValueError("rate and duration must be positive")
    count = round(rate * duration_s)
    return np.arange(count, dtype=np.float64) / rate


def zipf_weights(customers: int, exponent: float) -> np.ndarray:
    """Probabilities of ranks 1..customers under a bounded Zipf law (``p(k) ~ 1 / k**s``)."""
    if customers < 1:
        raise ValueError("customers must be at least 1")
    ranks = np.arange(1, customers + 1, dtype=np.float64)
    weights = ranks**-exponent
    normalised: np.ndarray = weights / weights.sum()
    return normalised


def customer_sequence(
    count: int, customers: int, exponent: float, seed: int, start: int = 1
) -> list[str]:
    """``count`` customer ids (``cust-0000001`` style) drawn with Zipf skew.

    Popularity ranks are shuffled over the id range, so the hottest customers are spread over
    the table rather than all at its start.
    """
    rng = np.random.default_rng(seed)
    ranks = rng.choice(customers, size=count, p=zipf_weights(customers, exponent))
    id_of_rank = rng.permutation(customers) + start
    return [f"cust-{i:07d}" for i in id_of_rank[ranks]]


def percentiles_ms(
    latencies_s: Sequence[float] | np.ndarray, points: Sequence[float] = PERCENTILES
) -> dict[str, float | None]:
    """``{"p50": ms, ...}`` of ``latencies_s`` (nearest-rank). None when there are no samples or
    the percentile falls on an unanswered request (``inf``)."""
    samples = np.sort(np.asarray(latencies_s, dtype=np.float64))
    if samples.size == 0:
        return {_label(p): None for p in points}
    values = {_label(p): float(samples[nearest_rank(p, samples.size)]) * 1000.0 for p in points}
    return {label: (v if math.isfinite(v) else None) for label, v in values.items()}


def nearest_rank(point: float, count: int) -> int:
    """Index (0-based) of the ``point``-th percentile of ``count`` sorted samples: the smallest
    sample with at least ``point`` % of the samples at or below it."""
    # Rounded first so that 99.9 % of 1,000 is rank 999, not 1,000 by float error.
    rank = math.ceil(round(point * count / 100.0, 9))
    return min(max(rank, 1), count) - 1


def _label(point: float) -> str:
    return f"p{point:g}"


@dataclass(frozen=True)
class Lateness:
    """How far behind its schedule the load generator sent (seconds)."""

    p50_s: float
    p99_s: float
    max_s: float

    @classmethod
    def of(cls, sent_minus_due_s: Sequence[float] | np.ndarray) -> Lateness:
        """Summarise send time minus due time of every request."""
        late = np.maximum(np.asarray(sent_minus_due_s, dtype=np.float64), 0.0)
        if late.size == 0:
            return cls(0.0, 0.0, 0.0)
        late.sort()
        p50, p99 = late[nearest_rank(50, late.size)], late[nearest_rank(99, late.size)]
        return cls(float(p50), float(p99), float(late[-1]))


def cpu_percent(cpu_seconds: float, wall_seconds: float) -> float:
    """CPU time over wall time as a percentage of one core (200 % = both cores of two)."""
    if wall_seconds <= 0:
        return 0.0
    return 100.0 * cpu_seconds / wall_seconds
