"""Nightly snapshot of the open journeys: write → audit → publish → clean.

Each step is a function of the settings and the snapshot's path, so Airflow tasks and the CLI
run the same code and pass only the path (relative to the lake root) between steps.

The lake layout is described in :mod:`offload.open_table`. A snapshot directory
without ``_manifest.json`` is an interrupted write and is never published; ``clean`` deletes
every snapshot but the published one. Rerunning for a date whose snapshot is already published
does nothing (``force`` takes a fresh snapshot anyway).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from offload.catalog import refresh_catalog_if_enabled
from offload.errors import AuditFailed, LakeStateError, NotPublished
from offload.lake import Lake
from offload.open_table import (
    AUDITED,
    MANIFEST,
    OPEN_TABLE,
    POINTER,
    SNAPSHOTS,
    read_pointer,
)
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
from offload.settings import OffloadSettings


@dataclass(frozen=True)
class SnapshotWritten:
    """Result of :func:`write_open_snapshot`."""

    path: str
    rows: int
    bytes: int
    snapshot_at: str
    skipped: bool


def write_open_snapshot(
    settings: OffloadSettings,
    run_date: date,
    *,
    force: bool = False,
    observer: JobObserver | None = None,
) -> SnapshotWritten:
    """Scan the open journeys at one snapshot and write them to a new snapshot directory."""
    observer = observer or NullObserver()
    lake = Lake(settings.lake_uri)
    pointer = read_pointer(lake)
    if pointer is not None and pointer["run_date"] == run_date.isoformat() and not force:
        observer.step("write (already published)", pointer["row_count"])
        observer.advance(pointer["row_count"])
        return SnapshotWritten(
            pointer["path"], pointer["row_count"], pointer["bytes"], pointer["snapshot_at"], True
        )
    path = f"{SNAPSHOTS}/{run_date.isoformat()}-{uuid.uuid4().hex[:8]}"
    names = [f"part-{index}.parquet" for index in range(settings.writer_threads)]
    with settings.store.connect() as client:
        scan = client.scan(status="open")
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
        "run_date": run_date.isoformat(),
        "path": path,
        "snapshot_at": scan.snapshot_at.isoformat(),
        "row_count": scan.row_count,
        "rows_written": written.rows,
        "files": written.names,
        "bytes": written.bytes,
        "written_at": datetime.now(UTC).isoformat(),
    }
    lake.write_json(lake.path(path, MANIFEST), manifest)
    observer.checkpoint(NIGHTLY_WRITTEN)
    return SnapshotWritten(path, written.rows, written.bytes, scan.snapshot_at.isoformat(), False)


def _manifest(lake: Lake, path: str) -> dict[str, Any]:
    manifest = lake.read_json(lake.path(path, MANIFEST))
    if manifest is None:
        raise AuditFailed(f"{path} has no manifest: its write did not complete")
    return manifest


def audit_open_snapshot(
    settings: OffloadSettings, path: str, *, observer: JobObserver | None = None
) -> str:
    """Check the snapshot at ``path`` against its manifest and mark it audited."""
    observer = observer or NullObserver()
    lake = Lake(settings.lake_uri)
    manifest = _manifest(lake, path)
    observer.step("audit", manifest["row_count"])
    files = [lake.path(path, name) for name in manifest["files"]]
    report = audit_files(lake, files, expected_rows=manifest["row_count"])
    observer.advance(report.rows)
    lake.write_json(
        lake.path(path, AUDITED),
        {"rows": report.rows, "audited_at": datetime.now(UTC).isoformat()},
    )
    observer.checkpoint(NIGHTLY_AUDITED)
    return path


def publish_open_snapshot(
    settings: OffloadSettings, path: str, *, observer: JobObserver | None = None
) -> str:
    """Switch the ``journeys_open`` pointer to the audited snapshot at ``path`` atomically."""
    observer = observer or NullObserver()
    lake = Lake(settings.lake_uri)
    manifest = _manifest(lake, path)
    if not lake.exists(lake.path(path, AUDITED)):
        raise AuditFailed(f"{path} was not audited; refusing to publish it")
    observer.step("publish", None)
    pointer = read_pointer(lake)
    if pointer is None or pointer["path"] != path:
        record = {**manifest, "published_at": datetime.now(UTC).isoformat()}
        lake.write_json(lake.path(POINTER), record)
    observer.checkpoint(NIGHTLY_PUBLISHED)
    refresh_catalog_if_enabled(settings, lake)
    return path


def clean_open_snapshots(
    settings: OffloadSettings, path: str, *, observer: JobObserver | None = None
) -> list[str]:
    """Delete every snapshot except the published one; only once ``path`` is published."""
    observer = observer or NullObserver()
    lake = Lake(settings.lake_uri)
    pointer = read_pointer(lake)
    if pointer is None or pointer["path"] != path:
        published = pointer["path"] if pointer else "nothing"
        raise NotPublished(f"{path} is not published ({published} is); nothing deleted")
    if not lake.exists(lake.path(path, MANIFEST)):
        raise LakeStateError(f"the published snapshot {path} has no manifest")
    observer.step("clean", None)
    deleted = []
    for name in lake.list_dir(lake.path(SNAPSHOTS), dirs=True):
        if f"{SNAPSHOTS}/{name}" != path:
            lake.delete_dir(lake.path(SNAPSHOTS, name))
            deleted.append(f"{SNAPSHOTS}/{name}")
    lake.delete_temporary(lake.path(OPEN_TABLE))
    observer.checkpoint(NIGHTLY_CLEANED)
    return deleted
