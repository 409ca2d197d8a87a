"""The arithmetic of the load benchmark: arrival schedules, customer skew and percentiles.

Kept free of I/O (and of timing) so a unit test can check it exactly.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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


def count_statuses(statuses: Sequence[int | str]) -> dict[str, int]:
    """``{"200": n, "504": n, "timeout": n, ...}``: how many requests ended each way."""
    counts = Counter(statuses)
    return {str(k): v for k, v in sorted(counts.items(), key=lambda kv: str(kv[0]))}


def bucket_summaries(
    due_s: np.ndarray,
    latency_s: np.ndarray,
    statuses: Sequence[int | str],
    answered: np.ndarray,
    bucket_s: float,
) -> list[dict[str, Any]]:
    """Per interval of ``bucket_s`` seconds of *due* time: requests, answers, statuses and
    latency (ms).

    ``due_s`` are the requests' due times from the start of the measured window, so a request
    belongs to the interval it was scheduled in, however late its answer came. ``latency_s``
    counts an unanswered request as ``inf`` (see :func:`percentiles_ms`): p50/p99 are None
    when they fall on one; ``max`` is the slowest *answer* (None if nothing was answered).
    """
    if bucket_s <= 0:
        raise ValueError("bucket_s must be positive")
    index = np.floor(np.asarray(due_s, dtype=np.float64) / bucket_s).astype(np.int64)
    count = int(index.max()) + 1 if index.size else 0
    buckets = []
    for b in range(count):
        member = index == b
        latency = latency_s[member]
        good = answered[member]
        points = percentiles_ms(latency, (50.0, 99.0))
        slowest = float(latency[good].max()) * 1000.0 if good.any() else None
        buckets.append(
            {
                "start_s": b * bucket_s,
                "end_s": (b + 1) * bucket_s,
                "requests": int(member.sum()),
                "answered": int(good.sum()),
                "statuses": count_statuses([statuses[int(i)] for i in np.flatnonzero(member)]),
                "latency_ms": {"p50": points["p50"], "p99": points["p99"], "max": slowest},
            }
        )
    return buckets


def unanswered_per_second(due_s: np.ndarray, answered: np.ndarray) -> dict[str, int]:
    """``{"12": 3, ...}``: requests *due* in each second of the window that got no answer
    (only seconds that had one), to match errors to events such as a broker restart."""
    seconds = np.floor(np.asarray(due_s, dtype=np.float64)[~answered]).astype(np.int64)
    values, counts = np.unique(seconds, return_counts=True)
    return {str(int(v)): int(c) for v, c in zip(values, counts, strict=True)}
