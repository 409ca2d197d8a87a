"""A standby's replay lag, measured against the primary's WAL positions over time."""

from __future__ import annotations

from store.postgres.replay_lag import ReplayLag


def test_a_standby_that_replayed_everything_is_current_however_old_the_last_write() -> None:
    lag = ReplayLag(max_lag_s=5.0)
    lag.primary_at(0.0, 1_000)
    lag.primary_at(100.0, 1_000)  # an idle primary: nothing new to replay
    assert lag.lag_s(100.0, replayed=1_000) == 0.0
    assert not lag.stale(100.0, replayed=1_000)


def test_the_lag_is_the_time_since_the_primary_first_had_unreplayed_wal() -> None:
    lag = ReplayLag(max_lag_s=5.0)
    lag.primary_at(0.0, 1_000)
    lag.primary_at(1.0, 2_000)
    lag.primary_at(2.0, 3_000)
    assert lag.lag_s(2.0, replayed=1_500) == 1.0
    assert lag.lag_s(7.5, replayed=1_500) == 6.5
    assert lag.stale(7.5, replayed=1_500)
    assert not lag.stale(7.5, replayed=3_000)  # caught up: used again


def test_a_standby_behind_the_oldest_kept_position_stays_stale() -> None:
    lag = ReplayLag(max_lag_s=2.0)
    for second in range(60):
        lag.primary_at(float(second), 1_000 * (second + 1))
    assert lag.stale(59.0, replayed=10)


def test_a_server_not_in_recovery_is_never_stale() -> None:
    lag = ReplayLag(max_lag_s=1.0)
    lag.primary_at(0.0, 1_000)
    assert lag.lag_s(50.0, replayed=None) == 0.0
