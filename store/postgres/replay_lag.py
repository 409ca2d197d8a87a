"""How far a hot standby's replay is behind its primary, in seconds, from WAL positions.

A standby whose replay is paused, or whose replication stopped, keeps answering lookups with
what it had: a journey closed an hour ago is still shown open. ``pg_last_xact_replay_timestamp``
alone cannot tell that from an idle primary (no new transactions, nothing to replay), so the
lag is measured against the primary itself:

* every check records the primary's WAL position (``pg_current_wal_lsn``) with the time;
* a standby's lag is the time since the primary first had WAL that the standby has not
  replayed (``pg_last_wal_replay_lsn``): zero when it replayed everything the primary had at
  the last check, however long ago that was written.

:class:`ReplayLag` keeps that history; :class:`~store.postgres.async_lookups.AsyncReadEndpoints`
runs the checks and skips a standby whose lag exceeds the bound until it catches up.
"""

from __future__ import annotations

from collections import deque
from typing import Final

#: A standby whose replay is further behind than this is skipped (seconds; 0: never checked).
MAX_REPLAY_LAG_S: Final = 5.0
#: How often the primary's and the standbys' WAL positions are read (seconds).
CHECK_INTERVAL_S: Final = 1.0

#: The primary's WAL position as a number of bytes, and a standby's replayed position (NULL on a
#: server that is not in recovery: then it is a primary and replays nothing).
PRIMARY_LSN_SQL: Final = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint"
REPLAYED_LSN_SQL: Final = (
    "SELECT CASE WHEN pg_is_in_recovery() "
    "THEN (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint END"
)


class ReplayLag:
    """The primary's recent WAL positions, and a standby's lag measured against them."""

    def __init__(self, max_lag_s: float) -> None:
        self.max_lag_s = max_lag_s
        self._history: deque[tuple[float, int]] = deque()  # (time, primary position), oldest first

    def primary_at(self, now: float, position: int) -> None:
        """The primary had written up to ``position`` at ``now``."""
        if self._history and position <= self._history[-1][1]:
            return  # nothing new since: the oldest time with this position is what counts
        self._history.append((now, position))
        # Keep one entry older than the bound: a standby behind it is stale whatever came after.
        while len(self._history) > 1 and now - self._history[1][0] > self.max_lag_s:
            self._history.popleft()

    def lag_s(self, now: float, replayed: int | None) -> float:
        """Seconds since the primary first had WAL the standby has not replayed (0 if none)."""
        if replayed is None:
            return 0.0  # not in recovery: a primary, current by definition
        for then, position in self._history:
            if position > replayed:
                return now - then
        return 0.0

    def stale(self, now: float, replayed: int | None) -> bool:
        """True when the standby's lag exceeds the bound."""
        return self.lag_s(now, replayed) > self.max_lag_s
