"""Nightly snapshot of the whole store table: write → audit → publish → clean.

Each step is a function of the settings and the run's path (its data directory relative to the
lake root, ``journeys_current/data/<date>-<id>``), so Airflow tasks and the CLI run the same
code:

* ``write`` scans **every** row of the store (open journeys and closed ones housekeeping has not
  moved yet) at one store snapshot and writes them as new Parquet files in the run's data
  directory, with a manifest in ``journeys_current/_runs/<run>/`` (the store's snapshot point
  and row count, the files, the run id);
* ``audit`` checks the files against the manifest (rows, schema, unique key);
* ``publish`` makes the files the whole content of ``journeys_current`` in **one** Iceberg
  commit (the previous files leave the table in the same commit); the commit's summary names
  the run id and the store snapshot point, so a rerun of a run already committed commits
  nothing. Then a journey the store holds again after housekeeping moved it (re-sent by the
  campaigns system) leaves ``journeys_closed`` (new files without it, one commit): the store's
  version, now in ``journeys_current``, is its latest state. Every try of ``publish`` does this,
  so a rerun after a crash between the two commits completes it;
* ``clean`` expires table snapshots older than the retention and deletes the data files no
  live snapshot reads any more (and the leftovers of interrupted runs).

A run id defaults to ``nightly-<date>``: rerunning a date already published does nothing
(``force`` takes a fresh snapshot anyway). The DAG passes its Airflow run id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from offload.catalog import refresh_catalog_if_enabled
from offload.closed_files import files_without_keys, joined_keys, read_keys
from offload.errors import AuditFailed, LakeError, LakeStateError, NotPublished
from offload.iceberg_tables import (
    CHANGE,
    CLOSED_TABLE,
    CURRENT_TABLE,
    OPEN_TABLE,
    RUN_ID,
    RUN_PATH,
    STORE_SNAPSHOT_AT,
    LakeTables,
)
from offload.lake import Lake
from offload.parquet_io import ParquetOptions, audit_files, write_batches
from offload.progress import (
    NIGHTLY_AUDITED,
    NIGHTLY_CLEANED,
    NIGHTLY_DATA_WRITTEN,
    NIGHTLY_PUBLISHED,
    NIGHTLY_WRITTEN,
    JobObserver,
    NullObserver,
)
from offload.run_lock import one_run_at_a_time
from offload.settings import OffloadSettings

DATA: str = f"{CURRENT_TABLE}/data"
RUNS: str = f"{CURRENT_TABLE}/_runs"
#: Where lakes from before ``journeys_current`` kept the nightly table's files (cleaned too).
LEGACY_DATA: str = f"{OPEN_TABLE}/data"
LEGACY_RUNS: str = f"{OPEN_TABLE}/_runs"
MANIFEST = "_manifest.json"
AUDITED = "_audited.json"


@dataclass(frozen=True)
class SnapshotWritten:
    """Result of :func:`write_open_snapshot`."""

    path: str
    rows: int
    bytes: int
    snapshot_at: str
    skipped: bool


def _run_state(path: str, name: str) -> str:
    """The state file ``name`` of the run whose data directory is ``path``."""
    return f"{RUNS}/{path.rsplit('/', 1)[-1]}/{name}"


@one_run_at_a_time("nightly")
def write_open_snapshot(
    settings: OffloadSettings,
    run_date: date,
    *,
    force: bool = False,
    run_id: str | None = None,
    observer: JobObserver | None = None,
) -> SnapshotWritten:
    """Scan the whole store table at one snapshot and write it as a run's data files."""
    observer = observer or NullObserver()
    tables = LakeTables(settings)
    lake = tables.lake
    run_id = run_id or f"nightly-{run_date.isoformat()}"
    if force:
        run_id = f"{run_id}-{uuid.uuid4().hex[:8]}"
    done = tables.snapshot_of_run(CURRENT_TABLE, run_id)
    if done is not None and done.summary is not None:
        summary = done.summary.additional_properties
        rows = int(summary.get("total-records", 0))
        observer.step("write (already published)", rows)
        observer.advance(rows)
        size = int(summary.get("total-files-size", 0))
        return SnapshotWritten(summary[RUN_PATH], rows, size, summary[STORE_SNAPSHOT_AT], True)
    path = f"{DATA}/{run_date.isoformat()}-{uuid.uuid4().hex[:8]}"
    names = [f"part-{index}.parquet" for index in range(settings.writer_threads)]
    with settings.store.connect() as client:
        scan = client.scan(status="all")
        observer.step("write", scan.row_count)
        written = write_batches(
            lake,
            lake.path(path),
            names,
            scan,
            ParquetOptions.from_settings(settings),
            on_batch=lambda batch: observer.advance(batch.num_rows),
        )
    observer.checkpoint(NIGHTLY_DATA_WRITTEN)
    manifest = {
        "run_id": run_id,
        "run_date": run_date.isoformat(),
        "path": path,
        "snapshot_at": scan.snapshot_at.isoformat(),
        "row_count": scan.row_count,
        "rows_written": written.rows,
        "files": written.names,
        "bytes": written.bytes,
        "written_at": datetime.now(UTC).isoformat(),
    }
    lake.write_json(lake.path(_run_state(path, MANIFEST)), manifest)
    observer.checkpoint(NIGHTLY_WRITTEN)
    return SnapshotWritten(path, written.rows, written.bytes, scan.snapshot_at.isoformat(), False)


def _manifest(lake: Lake, path: str) -> dict[str, Any]:
    manifest = lake.read_json(lake.path(_run_state(path, MANIFEST)))
    if manifest is None:
        raise AuditFailed(f"{path} has no manifest: its write did not complete")
    return manifest


@one_run_at_a_time("nightly")
def audit_open_snapshot(
    settings: OffloadSettings, path: str, *, observer: JobObserver | None = None
) -> str:
    """Check the run's files against its manifest and mark the run audited."""
    observer = observer or NullObserver()
    lake = Lake(settings.lake_uri)
    manifest = _manifest(lake, path)
    observer.step("audit", manifest["row_count"])
    files = [lake.path(path, name) for name in manifest["files"]]
    report = audit_files(lake, files, expected_rows=manifest["row_count"])
    observer.advance(report.rows)
    lake.write_json(
        lake.path(_run_state(path, AUDITED)),
        {"rows": report.rows, "audited_at": datetime.now(UTC).isoformat()},
    )
    observer.checkpoint(NIGHTLY_AUDITED)
    return path


@one_run_at_a_time("nightly")
def publish_open_snapshot(
    settings: OffloadSettings, path: str, *, observer: JobObserver | None = None
) -> str:
    """Replace the whole content of ``journeys_current`` by the audited run, in one commit;
    then take the journeys it holds out of ``journeys_closed`` (re-sent after being moved)."""
    observer = observer or NullObserver()
    tables = LakeTables(settings)
    lake = tables.lake
    manifest = _manifest(lake, path)
    observer.step("publish", None)
    if tables.snapshot_of_run(CURRENT_TABLE, manifest["run_id"]) is None:
        if not lake.exists(lake.path(_run_state(path, AUDITED))):
            raise AuditFailed(f"{path} was not audited; refusing to publish it")
        files = _non_empty(lake, [lake.path(path, name) for name in manifest["files"]])
        _check_complete(lake, path, files, manifest["row_count"])
        lake.fsync(files)
        tables.replace(
            CURRENT_TABLE,
            drop=tables.data_files(CURRENT_TABLE),
            add=files,
            properties={
                RUN_ID: manifest["run_id"],
                RUN_PATH: path,
                STORE_SNAPSHOT_AT: manifest["snapshot_at"],
            },
        )
    observer.checkpoint(NIGHTLY_PUBLISHED)
    release_from_closed(settings, manifest["run_id"], tables=tables)
    refresh_catalog_if_enabled(settings, lake, tables)
    return path


@one_run_at_a_time("nightly")
def release_from_closed(
    settings: OffloadSettings, run_id: str, *, tables: LakeTables | None = None
) -> int:
    """One commit: the journeys of ``journeys_current`` that are also in ``journeys_closed``
    leave ``journeys_closed`` (the store holds them again, so the current table has their
    latest state). Returns how many left; 0 (and no commit) when the tables are disjoint.

    Rerunnable: it compares the tables as they are now.
    """
    tables = tables or LakeTables(settings)
    lake = tables.lake
    closed_files = tables.file_paths(CLOSED_TABLE)
    if not closed_files:
        return 0
    relative = [path.removeprefix(lake.root.rstrip("/") + "/") for path in closed_files]
    current = tables.file_paths(CURRENT_TABLE)
    current_keys = joined_keys(
        read_keys(lake, [path.removeprefix(lake.root.rstrip("/") + "/") for path in current])
    )
    closed_keys = joined_keys(read_keys(lake, relative))
    if len(current_keys) == 0 or len(closed_keys) == 0:
        return 0
    try:
        both = closed_keys.filter(pc.is_in(closed_keys, value_set=current_keys))
    except pa.ArrowException as exc:
        raise LakeError(f"cannot compare the keys of the two tables: {exc}") from exc
    if len(both) == 0:
        return 0
    prefix = f"released-{uuid.uuid4().hex[:8]}"
    drop, copies = files_without_keys(tables, both, prefix, ParquetOptions.from_settings(settings))
    lake.fsync([lake.path(file) for file in copies])
    tables.replace(
        CLOSED_TABLE,
        drop=drop,
        add=[lake.path(file) for file in copies],
        properties={
            CHANGE: f"{len(both)} journeys the store holds again left the table after {run_id}"
        },
    )
    return len(both)


def _check_complete(lake: Lake, path: str, files: list[str], expected: int) -> None:
    """Refuse to publish a run whose files are gone (an empty file deleted by an earlier try
    is fine: the rest still hold every row)."""
    rows = 0
    for file in files:
        with lake.fs.open_input_file(file) as stream:
            rows += pq.read_metadata(stream).num_rows
    if rows != expected:
        raise LakeStateError(
            f"{path} holds {rows} of its {expected} rows: files were deleted (by a run of "
            "another process between two of this run's steps?); rerun the job"
        )


def _non_empty(lake: Lake, files: list[str]) -> list[str]:
    """``files`` that hold rows; empty ones (fewer batches than writers) are deleted."""
    kept = []
    for file in files:
        if not lake.exists(file):
            continue  # deleted as empty by an earlier try of this step
        with lake.fs.open_input_file(file) as stream:
            rows = pq.read_metadata(stream).num_rows
        if rows:
            kept.append(file)
        else:
            lake.delete_file(file)
    return kept


def published_path(tables: LakeTables) -> str | None:
    """The run path of the current snapshot of ``journeys_current`` (None before any publish)."""
    snapshot = tables.table(CURRENT_TABLE).current_snapshot()
    if snapshot is None or snapshot.summary is None:
        return None
    return snapshot.summary.additional_properties.get(RUN_PATH)


@one_run_at_a_time("nightly")
def clean_open_snapshots(
    settings: OffloadSettings, path: str, *, observer: JobObserver | None = None
) -> list[str]:
    """Expire old table snapshots, delete data no live snapshot reads; only once published."""
    observer = observer or NullObserver()
    tables = LakeTables(settings)
    lake = tables.lake
    published = published_path(tables)
    if published != path:
        raise NotPublished(f"{path} is not published ({published or 'nothing'} is); kept all")
    observer.step("clean", None)
    retention = timedelta(days=settings.snapshot_retention_days)
    tables.expire_snapshots(CURRENT_TABLE, datetime.now(UTC) - retention)
    # Deleting what no snapshot reads is safe under the lake's lock (offload.run_lock): no other
    # run lists, writes or commits while this step runs. A run of another process that wrote
    # its files before this step and publishes after it finds them gone and refuses to publish
    # (_check_complete); it never commits a missing file.
    referenced = tables.referenced_paths(CURRENT_TABLE)
    live_runs = {file.rsplit("/", 2)[-2] for file in referenced}
    deleted = []
    # A lake upgraded from journeys_open keeps that table's files where they were until no
    # live snapshot reads them.
    for data, runs in ((DATA, RUNS), (LEGACY_DATA, LEGACY_RUNS)):
        for name in lake.list_dir(lake.path(data), dirs=True):
            if name not in live_runs:
                lake.delete_dir(lake.path(data, name))
                lake.delete_dir(lake.path(runs, name))
                deleted.append(f"{data}/{name}")
        for name in lake.list_dir(lake.path(runs), dirs=True):
            if name not in live_runs:
                lake.delete_dir(lake.path(runs, name))
    observer.checkpoint(NIGHTLY_CLEANED)
    return deleted
