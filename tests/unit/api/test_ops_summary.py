"""/ops/summary's figures from two snapshots: rates, percentiles, lag, store rows, peers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.demo.ops_samples import Samples
from api.demo.ops_summary import LOOKUP_ROUTE, OpsHistory, PeerStatus, Snapshot, summarise

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ROUTE = (("route", LOOKUP_ROUTE),)


def gateway(
    ok: float, not_found: float, fast: float, slow: float, other_route: float = 0
) -> Samples:
    """Gateway samples: lookups by status, ``fast`` ones ≤ 5 ms and ``slow`` ones ≤ 50 ms."""
    lookups = fast + slow
    return {
        "journeys_gateway_requests_total": {
            (("route", LOOKUP_ROUTE), ("status", "200")): ok,
            (("route", LOOKUP_ROUTE), ("status", "404")): not_found,
            (("route", "/ops/summary"), ("status", "200")): other_route,
        },
        "journeys_gateway_request_duration_seconds_bucket": {
            (("le", "0.005"), *ROUTE): fast,
            (("le", "0.05"), *ROUTE): lookups,
            (("le", "+Inf"), *ROUTE): lookups,
            (("le", "0.005"), ("route", "/ops/summary")): other_route,
            (("le", "0.05"), ("route", "/ops/summary")): other_route,
            (("le", "+Inf"), ("route", "/ops/summary")): other_route,
        },
        "journeys_gateway_in_flight_requests": {(): 3.0},
        "journeys_gateway_shed_requests_total": {(("reason", "deadline"),): 1.0},
        "journeys_gateway_dropped_replies_total": {(("reason", "late"),): 2.0},
        "journeys_gateway_hedges_sent_total": {(): 7.0},
        "journeys_gateway_hedges_won_total": {(): 5.0},
    }


def responder(consumed: float, lag: dict[str, float]) -> Samples:
    return {
        "journeys_responder_requests_total": {(): consumed},
        "journeys_responder_replies_total": {(("status", "ok"),): consumed},
        "journeys_responder_expired_requests_total": {(): 4.0},
        "journeys_responder_dead_letters_total": {(): 1.0},
        "journeys_responder_consumer_lag": {
            (("partition", p), ("topic", "journey.requests")): v for p, v in lag.items()
        },
    }


STORE: Samples = {
    "journeys_store_rows": {(("status", "open"),): 700.0, (("status", "closed"),): 300.0},
    "journeys_store_db_bytes": {(): 4096.0},
}


def test_rates_and_percentiles_cover_only_the_lookup_route_within_the_window() -> None:
    before = Snapshot(at=100.0, gateway=gateway(ok=10, not_found=0, fast=10, slow=0))
    # 10 s later: +90 ok and +10 not found; of the 100 new lookups 80 fast, 20 slow.
    now = Snapshot(
        at=110.0, gateway=gateway(ok=100, not_found=10, fast=90, slow=20, other_route=500)
    )

    summary = summarise(now, before, [], NOW)
    g = summary.gateway

    assert summary.window_s == pytest.approx(10.0)
    assert g.lookups_per_s == pytest.approx(10.0)
    assert g.errors_per_s == pytest.approx(1.0)
    assert [(s.status, s.total) for s in g.statuses] == [("200", 100), ("404", 10)]
    assert [s.per_s for s in g.statuses] == pytest.approx([9.0, 1.0])
    assert g.lookups_total == 110
    # rank 50 of 100, 80 in (0, 5 ms]: 5 * 50 / 80 ms
    assert g.latency.p50_ms == pytest.approx(3.125)
    # rank 90: 5 + 45 * (90 - 80) / 20 ms
    assert g.latency.p90_ms == pytest.approx(27.5)
    assert g.latency.p99_ms == pytest.approx(47.75)
    assert g.in_flight == 3
    assert g.shed_total == {"deadline": 1}
    assert g.dropped_replies_total == {"late": 2}
    assert (g.hedges_sent_total, g.hedges_won_total) == (7, 5)


def test_without_a_baseline_there_are_totals_but_no_rates() -> None:
    now = Snapshot(at=5.0, gateway=gateway(ok=3, not_found=1, fast=4, slow=0))

    summary = summarise(now, None, [], NOW)

    assert summary.window_s is None
    assert summary.gateway.lookups_per_s is None
    assert summary.gateway.latency.p50_ms is None
    assert [(s.status, s.per_s, s.total) for s in summary.gateway.statuses] == [
        ("200", None, 3),
        ("404", None, 1),
    ]


def test_no_lookups_in_the_window_means_zero_rate_and_no_percentiles() -> None:
    same = gateway(ok=5, not_found=0, fast=5, slow=0)

    summary = summarise(Snapshot(2.0, same), Snapshot(1.0, same), [], NOW)

    assert summary.gateway.lookups_per_s == 0.0
    assert summary.gateway.latency.p99_ms is None


def test_responder_figures_sum_peers_and_lag_is_by_partition() -> None:
    before = Snapshot(
        at=0.0,
        gateway={},
        peers={"r1": responder(100, {}), "r2": None, "store": STORE},
    )
    now = Snapshot(
        at=2.0,
        gateway={},
        peers={
            "r1": responder(120, {"0": 2, "1": 0}),  # +20 in 2 s
            "r2": responder(1_000, {"2": 5, "10": 1}),  # was down: no rate yet
            "store": STORE,
        },
    )

    summary = summarise(now, before, [], NOW)
    r = summary.responder

    assert r is not None
    assert r.requests_per_s == pytest.approx(10.0)
    assert r.consumer_lag == {"0": 2, "1": 0, "2": 5, "10": 1}
    assert list(r.consumer_lag) == ["0", "1", "2", "10"]
    assert r.lag_total == 8
    assert r.expired_total == 8
    assert r.dead_letters_total == 2
    assert r.replies_total == {"ok": 1_120}


def test_store_rows_come_from_the_store_peer() -> None:
    now = Snapshot(at=1.0, gateway={}, peers={"store": STORE})

    store = summarise(now, None, [], NOW).store

    assert store is not None
    assert (store.rows_open, store.rows_closed, store.db_bytes) == (700, 300, 4096)


def test_down_peers_leave_their_figures_unknown_and_are_listed() -> None:
    down = [
        PeerStatus(name="store", url="http://x/metrics", up=False, error="ConnectError"),
        PeerStatus(name="responder", url="http://y/metrics", up=False, error="ConnectError"),
    ]
    now = Snapshot(at=1.0, gateway={}, peers={"store": None, "responder": None})

    summary = summarise(now, None, down, NOW)

    assert summary.store is None
    assert summary.responder is None
    assert [(p.name, p.up) for p in summary.peers] == [("store", False), ("responder", False)]


def test_history_answers_the_oldest_snapshot_inside_the_window() -> None:
    history = OpsHistory(window_s=10.0, min_span_s=0.5)

    assert history.add(Snapshot(0.0, {})) is None  # nothing to compare with yet
    assert history.add(Snapshot(0.2, {})) is None  # too close for a meaningful rate
    first = history.add(Snapshot(1.0, {}))
    assert first is not None
    assert first.at == 0.0
    for second in range(2, 10):
        baseline = history.add(Snapshot(float(second), {}))
        assert baseline is not None
        assert baseline.at == 0.0
    later = history.add(Snapshot(12.0, {}))
    assert later is not None
    assert later.at == 2.0  # 0.0, 0.2 and 1.0 fell out of the 10 s window


def test_history_after_a_long_pause_starts_again() -> None:
    history = OpsHistory(window_s=10.0)
    history.add(Snapshot(0.0, {}))

    assert history.add(Snapshot(60.0, {})) is None
    baseline = history.add(Snapshot(61.0, {}))
    assert baseline is not None
    assert baseline.at == 60.0
