"""The benchmark's arithmetic: schedules, skew, percentiles (no timing is measured here)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.load_math import (
    Lateness,
    arrival_offsets,
    cpu_percent,
    customer_sequence,
    percentiles_ms,
    zipf_weights,
)
from bench.profiling import summarise


def test_open_loop_schedule_is_evenly_spaced_at_the_rate() -> None:
    offsets = arrival_offsets(rate=1000, duration_s=2.0)
    assert len(offsets) == 2000
    assert offsets[0] == 0.0
    assert np.allclose(np.diff(offsets), 0.001)


def test_schedule_refuses_a_zero_rate() -> None:
    with pytest.raises(ValueError, match="positive"):
        arrival_offsets(rate=0, duration_s=1.0)


def test_zipf_weights_sum_to_one_and_fall_with_rank() -> None:
    weights = zipf_weights(1000, exponent=1.0)
    assert weights.sum() == pytest.approx(1.0)
    assert weights[0] == pytest.approx(2 * weights[1])
    assert np.all(np.diff(weights) < 0)


def test_customer_sequence_is_skewed_deterministic_and_in_range() -> None:
    first = customer_sequence(20_000, customers=5_000, exponent=1.0, seed=3)
    assert first == customer_sequence(20_000, customers=5_000, exponent=1.0, seed=3)
    assert all("cust-0000001" <= c <= "cust-0005000" for c in first)
    counts = sorted(np.unique(first, return_counts=True)[1], reverse=True)
    # Under Zipf(1) over 5,000 ranks the top customer gets ~11% of requests, far above 1/5,000.
    assert counts[0] > 0.05 * len(first)


def test_percentiles_are_nearest_rank_in_milliseconds() -> None:
    samples = [i / 1000 for i in range(1, 1001)]  # 1 ms .. 1000 ms
    result = percentiles_ms(samples)
    assert result == {
        "p50": pytest.approx(500.0),
        "p90": pytest.approx(900.0),
        "p99": pytest.approx(990.0),
        "p99.9": pytest.approx(999.0),
    }


def test_percentiles_of_nothing_are_none() -> None:
    assert percentiles_ms([]) == {"p50": None, "p90": None, "p99": None, "p99.9": None}


def test_lateness_counts_early_sends_as_on_time() -> None:
    summary = Lateness.of([-0.001, 0.0, 0.002, 0.010])
    assert summary.max_s == pytest.approx(0.010)
    assert summary.p50_s == pytest.approx(0.0)


def test_cpu_percent_is_relative_to_one_core() -> None:
    assert cpu_percent(cpu_seconds=3.0, wall_seconds=2.0) == pytest.approx(150.0)
    assert cpu_percent(cpu_seconds=1.0, wall_seconds=0.0) == 0.0


def test_profile_summary_shares_self_and_inclusive_samples() -> None:
    collapsed = "main (a.py:1);work (b.py:2) 3\nmain (a.py:1);idle (c.py:9) 1\n"
    summary = summarise(collapsed)
    assert summary["samples"] == 4
    assert summary["self"][0] == ("work (b.py)", 75.0)
    assert ("main (a.py)", 100.0) in summary["inclusive"]


def test_a_percentile_that_falls_on_an_unanswered_request_is_none() -> None:
    samples = [0.001] * 98 + [float("inf")] * 2
    assert percentiles_ms(samples) == {"p50": 1.0, "p90": 1.0, "p99": None, "p99.9": None}
