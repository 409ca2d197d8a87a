"""Timing calls one after the other, and the percentiles of the times (the store benchmarks)."""

from __future__ import annotations

import time
from collections.abc import Callable


def timed_calls(call: Callable[[list[str]], object], calls: list[list[str]]) -> list[float]:
    """Seconds each ``call(ids)`` took, one sample per entry of ``calls``, in order."""
    samples = []
    for ids in calls:
        started = time.perf_counter()
        call(ids)
        samples.append(time.perf_counter() - started)
    return samples


def percentile(samples: list[float], q: float) -> float:
    """The ``q`` quantile (0-1) of ``samples``: the sample at index ``int(q * n)`` in order."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
