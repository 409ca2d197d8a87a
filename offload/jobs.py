"""Whole runs of the two jobs, step after step, as the CLI and the benchmark run them.

Airflow runs the same steps as separate tasks (see ``dags/``).
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

from offload.catalog import refresh_catalog_if_enabled
from offload.housekeeping import (
    PartWritten,
    audit_closed_part,
    commit_closed_part,
    purge_closed_part,
    refresh_current_table,
    write_closed_part,
)
from offload.iceberg_tables import LakeTables
from offload.metrics import write_job_metrics
from offload.nightly import (
    SnapshotWritten,
    audit_open_snapshot,
    clean_open_snapshots,
    publish_open_snapshot,
    release_from_closed,
    write_open_snapshot,
)
from offload.progress import JobObserver, NullObserver
from offload.run_lock import one_run_at_a_time
from offload.settings import OffloadSettings
from offload.summary import JobSummary


def _finish(
    settings: OffloadSettings,
    job: str,
    written: SnapshotWritten | PartWritten,
    started: float,
    details: dict[str, object],
) -> JobSummary:
    """The run's summary, also written as metrics when the settings ask for them."""
    summary = JobSummary(
        job=job,
        rows=written.rows,
        bytes=written.bytes,
        seconds=time.perf_counter() - started,
        finished_at=datetime.now(UTC),
        details=details,
    )
    if settings.metrics_dir is not None:
        write_job_metrics(settings.metrics_dir, summary)
    return summary


@one_run_at_a_time("nightly")
def run_nightly(
    settings: OffloadSettings,
    run_date: date | None = None,
    *,
    force: bool = False,
    run_id: str | None = None,
    observer: JobObserver | None = None,
) -> JobSummary:
    """Snapshot the whole store table: write → audit → publish → clean."""
    observer = observer or NullObserver()
    run_date = run_date or datetime.now(UTC).date()
    started = time.perf_counter()
    written = write_open_snapshot(settings, run_date, force=force, run_id=run_id, observer=observer)
    deleted: list[str] = []
    if not written.skipped:  # this run id is committed already: nothing left to do
        audit_open_snapshot(settings, written.path, observer=observer)
        publish_open_snapshot(settings, written.path, observer=observer)
        deleted = clean_open_snapshots(settings, written.path, observer=observer)
    else:  # a crash may have come between publish's two commits: finish the second
        tables = LakeTables(settings)
        if release_from_closed(settings, run_id or "rerun", tables=tables):
            refresh_catalog_if_enabled(settings, tables.lake, tables)
    details: dict[str, object] = {
        "snapshot": written.path,
        "snapshot_at": written.snapshot_at,
        "already_published": written.skipped,
        "deleted_snapshots": len(deleted),
    }
    return _finish(settings, "nightly", written, started, details)


@one_run_at_a_time("housekeeping")
def run_housekeeping(
    settings: OffloadSettings,
    run_date: date | None = None,
    *,
    observer: JobObserver | None = None,
) -> JobSummary:
    """Move closed journeys to ``journeys_closed``: write → audit → commit → purge, then
    publish the store again as ``journeys_current`` (without the moved journeys)."""
    observer = observer or NullObserver()
    run_date = run_date or datetime.now(UTC).date()
    started = time.perf_counter()
    written = write_closed_part(settings, run_date, observer=observer)
    details: dict[str, object] = {"part": written.path, "resumed_parts": len(written.resumed)}
    if written.path is not None:
        audit_closed_part(settings, written.path, observer=observer)
        commit_closed_part(settings, written.path, observer=observer)
        purged = purge_closed_part(settings, written.path, observer=observer)
        details.update(purged=purged.purged, kept_in_store=purged.kept_in_store)
    # Always, even with nothing to move now: a crash after an earlier run's purge left the
    # journeys it moved in journeys_current too.
    current = refresh_current_table(settings, run_date, observer=observer)
    details.update(current_snapshot=current.path, current_rows=current.rows)
    return _finish(settings, "housekeeping", written, started, details)
