"""The window arithmetic of the ops page: counter increases, histogram quantiles, parsing."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram

from api.demo.ops_samples import (
    Samples,
    by_label,
    histogram_quantile,
    increase,
    parse_exposition,
    registry_samples,
    total,
    window_buckets,
    window_increase,
    window_increase_by_label,
)

INF = math.inf

EXPOSITION = """\
# HELP journeys_responder_consumer_lag Messages behind.
# TYPE journeys_responder_consumer_lag gauge
journeys_responder_consumer_lag{partition="0",topic="journey.requests"} 3.0
journeys_responder_consumer_lag{partition="1",topic="journey.requests"} 0.0
journeys_responder_consumer_lag{partition="1",topic="other"} 2.0
# HELP journeys_responder_requests_total Request messages consumed.
# TYPE journeys_responder_requests_total counter
journeys_responder_requests_total 42.0
journeys_responder_requests_created 1.7e9
"""


def test_parse_exposition_keeps_samples_by_name_and_sorted_labels() -> None:
    samples = parse_exposition(EXPOSITION)

    lag = samples["journeys_responder_consumer_lag"]
    assert lag[(("partition", "0"), ("topic", "journey.requests"))] == 3.0
    assert samples["journeys_responder_requests_total"] == {(): 42.0}
    assert "journeys_responder_requests_created" not in samples


def test_parse_exposition_refuses_text_that_is_not_prometheus() -> None:
    with pytest.raises(ValueError, match="invalid metric name"):
        parse_exposition("<html>not metrics</html>\n")


def test_total_and_by_label_sum_the_matching_series() -> None:
    samples = parse_exposition(EXPOSITION)

    assert total(samples, "journeys_responder_consumer_lag") == 5.0
    assert total(samples, "journeys_responder_consumer_lag", topic="other") == 2.0
    assert total(samples, "journeys_responder_consumer_lag", topic="nowhere") is None
    assert total(samples, "absent") is None
    assert by_label(samples, "journeys_responder_consumer_lag", "partition") == {"0": 3.0, "1": 2.0}
    assert by_label(
        samples, "journeys_responder_consumer_lag", "partition", topic="journey.requests"
    ) == {"0": 3.0, "1": 0.0}


def test_registry_samples_read_counters_without_created_timestamps() -> None:
    registry = CollectorRegistry()
    counter = Counter("hits", "Hits.", ["status"], registry=registry)
    counter.labels("200").inc(3)

    assert registry_samples(registry) == {"hits_total": {(("status", "200"),): 3.0}}


def test_a_counter_that_dropped_restarted_from_zero() -> None:
    assert increase(new=15.0, old=10.0) == 5.0
    assert increase(new=4.0, old=10.0) == 4.0
    assert increase(new=10.0, old=10.0) == 0.0


def test_window_increase_is_per_series_and_counts_new_series_whole() -> None:
    old: Samples = {"req_total": {(("status", "200"),): 10.0, (("status", "500"),): 7.0}}
    new: Samples = {
        "req_total": {
            (("status", "200"),): 25.0,  # +15
            (("status", "500"),): 2.0,  # restarted: +2
            (("status", "404"),): 4.0,  # appeared: +4
        }
    }

    assert window_increase(new, old, "req_total") == 21.0
    assert window_increase(new, old, "req_total", status="200") == 15.0
    assert window_increase_by_label(new, old, "req_total", "status") == {
        "200": 15.0,
        "500": 2.0,
        "404": 4.0,
    }


def test_window_buckets_are_bucket_increases_sorted_by_bound() -> None:
    def buckets(counts: tuple[float, float, float]) -> Samples:
        return {
            "lat_bucket": {
                (("le", "0.01"), ("route", "/r")): counts[0],
                (("le", "0.1"), ("route", "/r")): counts[1],
                (("le", "+Inf"), ("route", "/r")): counts[2],
                (("le", "0.01"), ("route", "/other")): 99.0,
            }
        }

    result = window_buckets(buckets((12, 20, 21)), buckets((2, 5, 5)), "lat", route="/r")

    assert result == [(0.01, 10.0), (0.1, 15.0), (INF, 16.0)]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (0.5, 0.00625),  # rank 50 of 100, in the first bucket (0 .. 0.01): 0.01 * 50 / 80
        (0.9, 0.035),  # rank 90: 0.01 + (0.05 - 0.01) * (90 - 80) / (96 - 80)
        (0.99, 0.1),  # rank 99 falls in +Inf: the highest finite bound
        (1.0, 0.1),
    ],
)
def test_histogram_quantile_interpolates_like_prometheus(q: float, expected: float) -> None:
    buckets = [(0.01, 80.0), (0.05, 96.0), (0.1, 98.0), (INF, 100.0)]

    assert histogram_quantile(q, buckets) == pytest.approx(expected)


def test_histogram_quantile_skips_empty_buckets() -> None:
    # Nothing below 0.01; all 10 observations between 0.01 and 0.02.
    buckets = [(0.005, 0.0), (0.01, 0.0), (0.02, 10.0), (INF, 10.0)]

    assert histogram_quantile(0.5, buckets) == pytest.approx(0.015)
    assert histogram_quantile(0.0, buckets) == pytest.approx(0.01)


def test_histogram_quantile_has_no_answer_without_observations() -> None:
    assert histogram_quantile(0.5, []) is None
    assert histogram_quantile(0.5, [(0.1, 0.0), (INF, 0.0)]) is None


def test_histogram_quantile_refuses_a_quantile_outside_zero_to_one() -> None:
    with pytest.raises(ValueError, match="within"):
        histogram_quantile(1.5, [(INF, 1.0)])


def test_quantiles_of_a_real_histogram_match_its_observations() -> None:
    registry = CollectorRegistry()
    histogram = Histogram(
        "lat", "Latency.", buckets=(0.001, 0.002, 0.004, 0.008), registry=registry
    )
    before = registry_samples(registry)
    for _ in range(100):
        histogram.observe(0.003)  # all in (0.002, 0.004]

    buckets = window_buckets(registry_samples(registry), before, "lat")

    assert histogram_quantile(0.5, buckets) == pytest.approx(0.003)
    assert 0.002 < (histogram_quantile(0.99, buckets) or 0) <= 0.004
