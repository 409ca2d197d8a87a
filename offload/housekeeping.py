"""Weekend housekeeping: move closed journeys from the store to ``journeys_closed``.

write → audit → commit → purge, each a function of the settings and the run's path
(``journeys_closed/_runs/<date>-<id>``, where its state files live). The invariant — once a run
completes, every journey is in exactly one of {store, ``journeys_closed``} — holds across
crashes because the table is committed **before** the store is purged:

* ``write`` first finishes what an earlier run left: a run whose Iceberg commit happened is
  purged (from its own immutable files, never rescanned); a run that never committed is
  discarded with its files (the store still has every row). Then it scans the closed rows at
  one store snapshot and writes them, one file per month of ``closed_at``.
* ``audit`` checks the files against the manifest (rows, schema, unique key, all closed).
* ``commit`` makes the files part of ``journeys_closed`` in one Iceberg commit that also
  replaces the rows of any key already in the table (a journey the campaigns system sent again
  after it was offloaded): the files holding such keys leave the table and copies without them
  join it. The commit's summary names the run id and the store snapshot point; a rerun sees it.
* ``purge`` deletes exactly the run's keys from the store, and only rows not updated after the
  snapshot. Keys the store kept (re-opened or changed since) leave the table by a second commit
  (new files without them); the store holds their current version.
* ``refresh`` publishes the store, as it is after the purge, as ``journeys_current`` (the
  nightly job's steps, :mod:`offload.nightly`): the moved journeys leave it, so the two tables
  are disjoint again, for any engine reading them. Until it completes, the moved journeys are
  in both tables; a rerun of the job (which always ends with it) settles that.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from offload.catalog import refresh_catalog_if_enabled
from offload.closed_files import (
    delete_unreferenced,
    files_without_keys,
    joined_keys,
    read_keys,
    write_partitioned,
)
from offload.errors import AuditFailed, LakeStateError
from offload.iceberg_tables import CHANGE, CLOSED_TABLE, RUN_ID, RUN_PATH, STORE_SNAPSHOT_AT
from offload.iceberg_tables import LakeTables as LakeTables
from offload.lake import Lake
from offload.nightly import (
    SnapshotWritten,
    audit_open_snapshot,
    clean_open_snapshots,
    publish_open_snapshot,
    write_open_snapshot,
)
from offload.parquet_io import ParquetOptions, audit_files
from offload.progress import (
    HOUSEKEEPING_AUDITED,
    HOUSEKEEPING_COMMITTED,
    HOUSEKEEPING_DATA_WRITTEN,
    HOUSEKEEPING_PURGED,
    HOUSEKEEPING_STORE_PURGED,
    HOUSEKEEPING_SURVIVORS_REMOVED,
    HOUSEKEEPING_WRITTEN,
    JobObserver,
    NullObserver,
)
from offload.run_lock import one_run_at_a_time
from offload.settings import OffloadSettings

if TYPE_CHECKING:
    from store import JourneyStore

RUNS = f"{CLOSED_TABLE}/_runs"
STARTED, MANIFEST, AUDITED, DONE = "_started.json", "_manifest.json", "_audited.json", "_done.json"


@dataclass(frozen=True)
class PartWritten:
    """Result of :func:`write_closed_part`: the run to audit, commit and purge, if any."""

    path: str | None
    rows: int
    bytes: int
    resumed: list[str]


@dataclass(frozen=True)
class PartPurged:
    """Result of :func:`purge_closed_part`."""

    path: str
    purged: int
    kept_in_store: int
    rows: int


def _state(lake: Lake, path: str, name: str) -> dict[str, Any] | None:
    return lake.read_json(lake.path(path, name))


def _run_name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


@one_run_at_a_time("housekeeping")
def write_closed_part(
    settings: OffloadSettings,
    run_date: date,
    *,
    run_id: str | None = None,
    observer: JobObserver | None = None,
) -> PartWritten:
    """Finish or discard earlier runs, then write the store's closed rows as a new run."""
    observer = observer or NullObserver()
    tables = LakeTables(settings)
    lake = tables.lake
    resumed = _finish_earlier_runs(settings, tables, observer)
    name = f"{run_date.isoformat()}-{uuid.uuid4().hex[:8]}"
    path = f"{RUNS}/{name}"
    run_id = run_id or f"housekeeping-{name}"
    lake.write_json(lake.path(path, STARTED), {"run_id": run_id, "run_date": str(run_date)})
    with settings.store.connect() as client:
        scan = client.scan(status="closed")
        observer.step("write", scan.row_count)
        if scan.row_count == 0:
            for _ in scan:  # read to its end (no rows): the store ends the scan's transaction
                pass
            lake.delete_dir(lake.path(path))
            return PartWritten(None, 0, 0, resumed)
        closed_at_max: list[Any] = []

        def on_batch(batch: pa.RecordBatch) -> None:
            closed_at_max.append(pc.max(batch.column("closed_at")).as_py())
            observer.advance(batch.num_rows)

        options = ParquetOptions.from_settings(settings)
        written = write_partitioned(lake, name, scan, options, on_batch=on_batch)
    observer.checkpoint(HOUSEKEEPING_DATA_WRITTEN)
    closed_before = max((value for value in closed_at_max if value is not None), default=None)
    manifest = {
        "run_id": run_id,
        "run_date": run_date.isoformat(),
        "path": path,
        "snapshot_at": scan.snapshot_at.isoformat(),
        "closed_before": (closed_before or scan.snapshot_at).isoformat(),
        "row_count": scan.row_count,
        "rows_written": written.rows,
        "files": written.files,
        "bytes": written.bytes,
        "written_at": datetime.now(UTC).isoformat(),
    }
    lake.write_json(lake.path(path, MANIFEST), manifest)
    observer.checkpoint(HOUSEKEEPING_WRITTEN)
    return PartWritten(path, written.rows, written.bytes, resumed)


def _finish_earlier_runs(
    settings: OffloadSettings, tables: LakeTables, observer: JobObserver
) -> list[str]:
    """Purge the runs that committed but did not finish; discard those that never committed."""
    lake = tables.lake
    resumed = []
    for name in lake.list_dir(lake.path(RUNS), dirs=True):
        path = f"{RUNS}/{name}"
        if _state(lake, path, DONE) is not None:
            continue
        started = _state(lake, path, STARTED) or {}
        if started.get("run_id") and tables.snapshot_of_run(CLOSED_TABLE, started["run_id"]):
            purge_closed_part(settings, path, observer=observer)
            resumed.append(path)
        else:
            # Never committed: the store has it all. Safe under the lake's lock (this step holds
            # it; a CLI run holds it from its first step to its last): a run still between two
            # steps in another process (Airflow tasks hold it one step at a time) finds its run
            # gone at its next step and fails there, having purged nothing.
            delete_unreferenced(tables, prefix=name)
            lake.delete_dir(lake.path(path))
    return resumed


def _manifest(lake: Lake, path: str) -> dict[str, Any]:
    manifest = _state(lake, path, MANIFEST)
    if manifest is None:
        raise AuditFailed(f"{path} has no manifest: its write did not complete")
    return manifest


@one_run_at_a_time("housekeeping")
def audit_closed_part(
    settings: OffloadSettings, path: str, *, observer: JobObserver | None = None
) -> str:
    """Check the run's files against its manifest and mark it audited (once)."""
    observer = observer or NullObserver()
    lake = Lake(settings.lake_uri)
    if _state(lake, path, AUDITED) is not None:
        return path
    manifest = _manifest(lake, path)
    observer.step("audit", manifest["row_count"])
    files = [lake.path(file) for file in manifest["files"]]
    report = audit_files(lake, files, manifest["row_count"])
    for file in files:
        statuses = pq.read_table(file, columns=["status"], filesystem=lake.fs)
        if pc.any(pc.not_equal(statuses.column("status"), "closed")).as_py():
            raise AuditFailed(f"{path} holds rows that are not closed")
    observer.advance(report.rows)
    lake.write_json(
        lake.path(path, AUDITED),
        {"rows": report.rows, "audited_at": datetime.now(UTC).isoformat()},
    )
    observer.checkpoint(HOUSEKEEPING_AUDITED)
    return path


@one_run_at_a_time("housekeeping")
def commit_closed_part(
    settings: OffloadSettings, path: str, *, observer: JobObserver | None = None
) -> str:
    """Commit the run's files to ``journeys_closed``, replacing rows of keys already there."""
    observer = observer or NullObserver()
    tables = LakeTables(settings)
    lake = tables.lake
    manifest = _manifest(lake, path)
    observer.step("commit", manifest["row_count"])
    if tables.snapshot_of_run(CLOSED_TABLE, manifest["run_id"]) is None:
        if _state(lake, path, AUDITED) is None:
            raise AuditFailed(f"{path} was not audited; refusing to commit it")
        name = _run_name(path)
        delete_unreferenced(tables, prefix=f"{name}-replaced")  # an interrupted earlier try
        keys = joined_keys(read_keys(lake, manifest["files"]))
        options = ParquetOptions.from_settings(settings)
        drop, copies = files_without_keys(tables, keys, f"{name}-replaced", options)
        added = [*manifest["files"], *copies]
        lake.fsync([lake.path(file) for file in added])
        tables.replace(
            CLOSED_TABLE,
            drop=drop,
            add=[lake.path(file) for file in added],
            properties={
                RUN_ID: manifest["run_id"],
                RUN_PATH: path,
                STORE_SNAPSHOT_AT: manifest["snapshot_at"],
                CHANGE: f"offloaded; {len(drop)} files held keys offloaded again",
            },
        )
    observer.advance(manifest["row_count"])
    observer.checkpoint(HOUSEKEEPING_COMMITTED)
    refresh_catalog_if_enabled(settings, lake, tables)
    return path


@one_run_at_a_time("housekeeping")
def purge_closed_part(
    settings: OffloadSettings, path: str, *, observer: JobObserver | None = None
) -> PartPurged:
    """Delete the run's rows from the store; rows it kept leave the table; mark the run done."""
    observer = observer or NullObserver()
    tables = LakeTables(settings)
    lake = tables.lake
    done = _state(lake, path, DONE)
    if done is not None:
        return PartPurged(path, done["purged"], done["kept_in_store"], done["rows"])
    manifest = _manifest(lake, path)
    if tables.snapshot_of_run(CLOSED_TABLE, manifest["run_id"]) is None:
        raise AuditFailed(f"{path} is not committed to {CLOSED_TABLE}; refusing to purge")
    keys = read_keys(lake, manifest["files"])
    observer.step("purge", keys.num_rows)
    with settings.store.connect() as client:
        purged = client.purge(
            closed_before=datetime.fromisoformat(manifest["closed_before"]),
            snapshot_at=datetime.fromisoformat(manifest["snapshot_at"]),
            keys=keys,
        )
        observer.checkpoint(HOUSEKEEPING_STORE_PURGED)
        kept = _keys_still_in_store(client, keys) if purged != keys.num_rows else pa.array([])
    if len(kept):
        _remove_from_table(settings, tables, path, manifest["run_id"], kept)
    observer.checkpoint(HOUSEKEEPING_SURVIVORS_REMOVED)
    observer.advance(keys.num_rows)
    record = {
        "purged": purged,
        "kept_in_store": len(kept),
        "rows": keys.num_rows - len(kept),
        "purged_at": datetime.now(UTC).isoformat(),
    }
    lake.write_json(lake.path(path, DONE), record)
    observer.checkpoint(HOUSEKEEPING_PURGED)
    retention = timedelta(days=settings.snapshot_retention_days)
    tables.expire_snapshots(CLOSED_TABLE, datetime.now(UTC) - retention)
    delete_unreferenced(tables)  # safe: this step holds the lake's lock (offload.run_lock)
    refresh_catalog_if_enabled(settings, lake, tables)
    return PartPurged(path, purged, len(kept), record["rows"])


@one_run_at_a_time("housekeeping")
def refresh_current_table(
    settings: OffloadSettings, run_date: date, *, observer: JobObserver | None = None
) -> SnapshotWritten:
    """Publish the store as it is now as ``journeys_current``: the journeys housekeeping moved
    leave it (nightly's write → audit → publish → clean, under a run id of its own)."""
    run_id = f"housekeeping-{run_date.isoformat()}"
    written = write_open_snapshot(settings, run_date, force=True, run_id=run_id, observer=observer)
    audit_open_snapshot(settings, written.path, observer=observer)
    publish_open_snapshot(settings, written.path, observer=observer)
    clean_open_snapshots(settings, written.path, observer=observer)
    return written


def _remove_from_table(
    settings: OffloadSettings, tables: LakeTables, path: str, run_id: str, kept: pa.Array
) -> None:
    """One commit: the keys the store kept leave ``journeys_closed`` (new files without them)."""
    lake = tables.lake
    prefix = f"{_run_name(path)}-kept"
    delete_unreferenced(tables, prefix=prefix)  # an interrupted earlier try
    options = ParquetOptions.from_settings(settings)
    drop, copies = files_without_keys(tables, kept, prefix, options)
    if not drop:
        return  # an earlier try committed this already
    lake.fsync([lake.path(file) for file in copies])
    tables.replace(
        CLOSED_TABLE,
        drop=drop,
        add=[lake.path(file) for file in copies],
        properties={CHANGE: f"{len(kept)} rows kept by the store after run {run_id}"},
    )


def _keys_still_in_store(client: JourneyStore, keys: pa.Table) -> pa.Array:
    """The run's keys the store still holds (joined): rows the purge kept because they changed.

    Rare (only when the purge deleted fewer rows than the run holds), so a scan is fine; the
    offloader role may scan but not look up.
    """
    wanted = joined_keys(keys)
    found: list[pa.Array] = []
    for batch in client.scan(status="all"):
        joined = joined_keys(batch)
        found.append(joined.filter(pc.is_in(joined, value_set=wanted)))
    if not found:
        return pa.array([], pa.string())
    result: pa.Array = pa.concat_arrays(found)
    if len(result) > keys.num_rows:
        raise LakeStateError("the store returned a key twice while checking kept rows")
    return result
