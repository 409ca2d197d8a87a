"""How a job reports progress and reaches its step boundaries.

The CLI draws progress bars from these calls; Airflow tasks pass nothing (:class:`NullObserver`).
:meth:`JobObserver.checkpoint` is called each time a step's effect is durable in the lake or the
store, with one of the names below. The crash tests use it to SIGKILL the job at each boundary
and prove a rerun restores the invariant; the names are listed here so those tests cover all.
"""

from __future__ import annotations

from typing import Final, Protocol


class JobObserver(Protocol):
    """Receives progress of a running job."""

    def step(self, name: str, total: int | None) -> None:
        """A step starts; ``total`` rows are expected when known."""

    def advance(self, rows: int) -> None:
        """``rows`` more rows were handled by the current step."""

    def checkpoint(self, name: str) -> None:
        """The step boundary ``name`` was reached: everything before it is durable."""


class NullObserver:
    """Ignores everything (Airflow tasks, library callers)."""

    def step(self, name: str, total: int | None) -> None:
        """Ignore."""

    def advance(self, rows: int) -> None:
        """Ignore."""

    def checkpoint(self, name: str) -> None:
        """Ignore."""


# Nightly snapshot boundaries, in the order a run reaches them.
NIGHTLY_DATA_WRITTEN: Final = "nightly.data-written"  # data files in place, no manifest yet
NIGHTLY_WRITTEN: Final = "nightly.written"  # manifest written
NIGHTLY_AUDITED: Final = "nightly.audited"
NIGHTLY_PUBLISHED: Final = "nightly.published"  # Iceberg commit done
NIGHTLY_CLEANED: Final = "nightly.cleaned"  # old snapshots expired, unread files deleted
NIGHTLY_CHECKPOINTS: Final = (
    NIGHTLY_DATA_WRITTEN,
    NIGHTLY_WRITTEN,
    NIGHTLY_AUDITED,
    NIGHTLY_PUBLISHED,
    NIGHTLY_CLEANED,
)

# Weekend housekeeping boundaries, in the order a run reaches them.
HOUSEKEEPING_DATA_WRITTEN: Final = "housekeeping.data-written"  # part file in place, no manifest
HOUSEKEEPING_WRITTEN: Final = "housekeeping.written"  # manifest with snapshot_at written
HOUSEKEEPING_AUDITED: Final = "housekeeping.audited"
HOUSEKEEPING_COMMITTED: Final = "housekeeping.committed"  # Iceberg commit, store not purged yet
HOUSEKEEPING_STORE_PURGED: Final = "housekeeping.store-purged"  # store deleted, kept rows not yet
HOUSEKEEPING_SURVIVORS_REMOVED: Final = "housekeeping.survivors-removed"  # kept rows left table
HOUSEKEEPING_PURGED: Final = "housekeeping.purged"  # run marked done
HOUSEKEEPING_CHECKPOINTS: Final = (
    HOUSEKEEPING_DATA_WRITTEN,
    HOUSEKEEPING_WRITTEN,
    HOUSEKEEPING_AUDITED,
    HOUSEKEEPING_COMMITTED,
    HOUSEKEEPING_STORE_PURGED,
    HOUSEKEEPING_SURVIVORS_REMOVED,
    HOUSEKEEPING_PURGED,
    # then the refresh of journeys_current without the moved journeys: the nightly steps
    *NIGHTLY_CHECKPOINTS,
)
