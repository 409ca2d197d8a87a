"""Weekend housekeeping: move closed journeys from the store to ``journeys_closed``.

write → audit → purge, each a function of the settings and the part's path. The invariant —
every journey is in exactly one of {store, ``journeys_closed``} — is kept across crashes by the
state recorded per part (see :mod:`offload.closed_table`):

* ``write`` first finishes what an earlier run left: an audited but unpurged part is purged
  from its own manifest (never rescanned: its rows may already be gone from the store), and a
  part written but not audited is discarded (nothing was purged for it). Then it scans the
  closed rows at one snapshot and writes them as the partition's next part; a retry rewrites
  the same part number, so nothing is appended twice.
* ``audit`` checks the part against the manifest (row count, schema, unique key).
* ``purge`` asks the store to delete exactly the part's keys, and only rows not updated after
  the snapshot. Keys the store kept (re-opened or changed after the snapshot) are then removed
  from the part, since the store holds their current version; only then is the part committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from journeys.schema import KEY_SCHEMA, PRIMARY_KEY
from offload.catalog import refresh_catalog_if_enabled
from offload.closed_table import CLOSED_TABLE, Part, part_from_path, partition_name, parts
from offload.errors import AuditFailed, LakeError, LakeStateError
from offload.lake import Lake
from offload.parquet_io import ParquetOptions, audit_files, write_batches
from offload.progress import (
    HOUSEKEEPING_AUDITED,
    HOUSEKEEPING_DATA_WRITTEN,
    HOUSEKEEPING_PURGED,
    HOUSEKEEPING_STORE_PURGED,
    HOUSEKEEPING_SURVIVORS_REMOVED,
    HOUSEKEEPING_WRITTEN,
    JobObserver,
    NullObserver,
)
from offload.settings import OffloadSettings

if TYPE_CHECKING:
    from store import JourneyStore


@dataclass(frozen=True)
class PartWritten:
    """Result of :func:`write_closed_part`: the part to audit and purge, if any."""

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


def write_closed_part(
    settings: OffloadSettings, run_date: date, *, observer: JobObserver | None = None
) -> PartWritten:
    """Finish earlier parts, then write the store's closed rows as this week's next part."""
    observer = observer or NullObserver()
    lake = Lake(settings.lake_uri)
    resumed = []
    for part in parts(lake):
        if part.committed:
            continue
        if part.audited:
            purge_closed_part(settings, part.path, observer=observer)
            resumed.append(part.path)
        else:
            _discard(lake, part)
    partition = partition_name(run_date)
    directory = lake.path(CLOSED_TABLE, partition)
    lake.delete_temporary(directory)
    number = len(parts(lake, partition))
    with settings.store.connect() as client:
        scan = client.scan(status="closed")
        observer.step("write", scan.row_count)
        if scan.row_count == 0:
            return PartWritten(None, 0, 0, resumed)
        part = Part(partition, number, False, None, False, None)
        closed_at_max: list[Any] = []

        def on_batch(batch: pa.RecordBatch) -> None:
            closed_at_max.append(pc.max(batch.column("closed_at")).as_py())
            observer.advance(batch.num_rows)

        written = write_batches(
            lake,
            directory,
            [f"part-{number}.parquet"],
            scan,
            ParquetOptions.from_settings(settings),
            on_batch=on_batch,
        )
    observer.checkpoint(HOUSEKEEPING_DATA_WRITTEN)
    closed_before = max((value for value in closed_at_max if value is not None), default=None)
    manifest = {
        "run_date": run_date.isoformat(),
        "path": part.path,
        "snapshot_at": scan.snapshot_at.isoformat(),
        "closed_before": (closed_before or scan.snapshot_at).isoformat(),
        "row_count": scan.row_count,
        "rows_written": written.rows,
        "bytes": written.bytes,
        "written_at": datetime.now(UTC).isoformat(),
    }
    lake.write_json(lake.path(part.marker("written")), manifest)
    observer.checkpoint(HOUSEKEEPING_WRITTEN)
    return PartWritten(part.path, written.rows, written.bytes, resumed)


def _discard(lake: Lake, part: Part) -> None:
    """Delete a part that was never audited: nothing was purged for it, the store has it all."""
    lake.delete_file(lake.path(part.path))
    lake.delete_file(lake.path(part.marker("written")))


def audit_closed_part(
    settings: OffloadSettings, path: str, *, observer: JobObserver | None = None
) -> str:
    """Check the part against its manifest and mark it audited (once)."""
    observer = observer or NullObserver()
    lake = Lake(settings.lake_uri)
    part = part_from_path(lake, path)
    if part.audited or part.committed:
        return path  # a rerun: the part may have lost kept-in-store rows since
    if part.written is None or not part.has_file:
        raise AuditFailed(f"{path} has no manifest: its write did not complete")
    observer.step("audit", part.written["row_count"])
    report = audit_files(lake, [lake.path(path)], part.written["row_count"])
    statuses = pq.read_table(lake.path(path), columns=["status"], filesystem=lake.fs)
    if pc.any(pc.not_equal(statuses.column("status"), "closed")).as_py():
        raise AuditFailed(f"{path} holds rows that are not closed")
    observer.advance(report.rows)
    lake.write_json(
        lake.path(part.marker("audited")),
        {"rows": report.rows, "audited_at": datetime.now(UTC).isoformat()},
    )
    observer.checkpoint(HOUSEKEEPING_AUDITED)
    return path


def purge_closed_part(
    settings: OffloadSettings, path: str, *, observer: JobObserver | None = None
) -> PartPurged:
    """Delete the part's rows from the store, drop the ones it kept, commit the part."""
    observer = observer or NullObserver()
    lake = Lake(settings.lake_uri)
    part = part_from_path(lake, path)
    if part.purged is not None:
        done = part.purged
        return PartPurged(path, done["purged"], done["kept_in_store"], done["rows"])
    if not part.audited or part.written is None or not part.has_file:
        raise AuditFailed(f"{path} was not audited; refusing to purge the store")
    snapshot_at = datetime.fromisoformat(part.written["snapshot_at"])
    closed_before = datetime.fromisoformat(part.written["closed_before"])
    data = _read(lake, path)
    keys = data.select(list(PRIMARY_KEY)).cast(KEY_SCHEMA)
    observer.step("purge", data.num_rows)
    with settings.store.connect() as client:
        purged = client.purge(closed_before=closed_before, snapshot_at=snapshot_at, keys=keys)
        observer.checkpoint(HOUSEKEEPING_STORE_PURGED)
        kept = _keys_still_in_store(client, keys) if purged != data.num_rows else set()
    if kept:
        _remove_rows(lake, path, data, kept, ParquetOptions.from_settings(settings))
    observer.checkpoint(HOUSEKEEPING_SURVIVORS_REMOVED)
    observer.advance(data.num_rows)
    record = {
        "purged": purged,
        "kept_in_store": len(kept),
        "rows": data.num_rows - len(kept),
        "purged_at": datetime.now(UTC).isoformat(),
    }
    lake.write_json(lake.path(part.marker("purged")), record)
    observer.checkpoint(HOUSEKEEPING_PURGED)
    refresh_catalog_if_enabled(settings, lake)
    return PartPurged(path, purged, len(kept), record["rows"])


def _read(lake: Lake, path: str) -> pa.Table:
    try:
        return pq.read_table(lake.path(path), filesystem=lake.fs)
    except (OSError, pa.ArrowException) as exc:
        raise LakeError(f"cannot read {path}: {exc}") from exc


def _joined_keys(table: pa.Table | pa.RecordBatch) -> pa.Array:
    # One string per key; "\x1f" cannot occur in ids (see journeys.schema.ID_PATTERN).
    joined: pa.Array = pc.binary_join_element_wise(
        table.column("customer_id"), table.column("journey_id"), "\x1f"
    )
    return joined


def _keys_still_in_store(client: JourneyStore, keys: pa.Table) -> set[tuple[str, str]]:
    """The part's keys the store still holds: rows the purge kept because they changed.

    Rare (only when the purge deleted fewer rows than the part holds), so a scan is fine; the
    offloader role may scan but not look up.
    """
    wanted = _joined_keys(keys)
    if isinstance(wanted, pa.ChunkedArray):
        wanted = wanted.combine_chunks()
    found: set[tuple[str, str]] = set()
    for batch in client.scan(status="all"):
        hits = batch.filter(pc.is_in(_joined_keys(batch), value_set=wanted))
        found.update(
            zip(hits["customer_id"].to_pylist(), hits["journey_id"].to_pylist(), strict=True)
        )
    return found


def _remove_rows(
    lake: Lake, path: str, data: pa.Table, kept: set[tuple[str, str]], options: ParquetOptions
) -> None:
    """Rewrite the part without the rows whose keys the store kept (atomic replace)."""
    kept_keys = pa.array([f"{customer}\x1f{journey}" for customer, journey in kept], pa.string())
    remaining = data.filter(pc.invert(pc.is_in(_joined_keys(data), value_set=kept_keys)))
    if remaining.num_rows != data.num_rows - len(kept):
        raise LakeStateError(f"{path}: expected to keep {len(kept)} rows in the store")
    try:
        with lake.atomic_path(lake.path(path)) as tmp:
            pq.write_table(
                remaining,
                tmp,
                filesystem=lake.fs,
                row_group_size=options.row_group_size,
                **options.writer_args(),
            )
    except (OSError, pa.ArrowException) as exc:
        raise LakeError(f"cannot rewrite {path}: {exc}") from exc
