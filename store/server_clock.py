"""The store server's clock: strictly increasing UTC microsecond stamps that survive a restart.

Every ``updated_at`` and every snapshot point comes from :class:`ServerClock`. Purges delete
closed rows "not updated after snapshot point S", so a stamp handed out after S must be above S
even if the machine's clock stepped back, across restarts too. ``max(updated_at)`` of the rows
left is not enough after a restart: the rows with the highest stamps may have been purged, and
a snapshot point is stored nowhere in the table. So the highest snapshot point (and the highest
``snapshot_at`` a purge was given) is also kept in a one-row table, :data:`CLOCK_TABLE`,
written before the point is handed out; at start the clock begins above both.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Final

CLOCK_TABLE: Final = "store_clock"
CREATE_CLOCK_SQL: Final = (
    f"CREATE TABLE IF NOT EXISTS {CLOCK_TABLE} (id INTEGER PRIMARY KEY, floor_us BIGINT NOT NULL)"
)
#: Raise the persisted floor to the parameter (never lower it).
SAVE_FLOOR_SQL: Final = (
    f"INSERT INTO {CLOCK_TABLE} VALUES (1, ?) ON CONFLICT (id) "  # noqa: S608 (constant names)
    "DO UPDATE SET floor_us = greatest(floor_us, excluded.floor_us)"
)
LOAD_FLOOR_SQL: Final = f"SELECT max(floor_us) FROM {CLOCK_TABLE}"  # noqa: S608 (constant)


def wall_clock_us() -> int:
    """The machine's UTC time in epoch microseconds."""
    return time.time_ns() // 1000


class ServerClock:
    """Strictly increasing UTC microsecond stamps, never behind ``floor_us``."""

    def __init__(self, floor_us: int = 0, now_us: Callable[[], int] = wall_clock_us) -> None:
        self._last = floor_us
        self._now_us = now_us
        self._lock = threading.Lock()

    @property
    def last_us(self) -> int:
        """The highest stamp handed out (or observed) so far."""
        with self._lock:
            return self._last

    def tick(self) -> int:
        """A stamp later than every stamp handed out before."""
        with self._lock:
            self._last = max(self._now_us(), self._last + 1)
            return self._last

    def observe(self, stamp_us: int) -> None:
        """Never hand out a stamp at or below ``stamp_us`` from now on."""
        with self._lock:
            self._last = max(self._last, stamp_us)
