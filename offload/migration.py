"""``journeys offload migrate``: import the old Parquet lake layout into the Iceberg tables.

The old layout (``journeys_open/_current.json`` naming a snapshot directory, and the committed
``journeys_closed/week=…/part-N.parquet`` parts; see :mod:`offload.open_table` and
:mod:`offload.closed_table`) is read, copied into new data files of the tables (the closed
rows split by month of ``closed_at``, as the table's partitioning needs), audited against the
old files' row counts, and committed: ``journeys_open`` is replaced by the old published
snapshot, the closed rows join ``journeys_closed`` (a key already there is replaced). The
counts are checked again on the committed tables. The old files are left in place; delete
them once the analysts have switched. Rerunning is safe: each import commits once (run ids
``migration-open`` / ``migration-closed``).

Lakes from before ``journeys_current`` have the nightly table ``journeys_open`` (the open
journeys only): opening the tables renames it to ``journeys_current``
(:meth:`~offload.iceberg_tables.LakeTables.upgrade`, one catalog operation, history kept), and
the next nightly run fills it with the whole store. The jobs do the same on their first run.

Then :func:`add_field_ids` rewrites the tables' current data files that carry no Iceberg field
ids (written before the offload wrote them, see :mod:`offload.field_ids`): each such file is
copied, row group by row group, into a new file with the ids next to it
(``fieldids-<id>-N.parquet``), the copies are audited, and **one commit per table** swaps them
in. Snapshots from before keep reading the old files (through the tables'
``schema.name-mapping.default``) until they expire; the jobs' cleaning deletes the old files
then. Rerunning finds nothing left to rewrite.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from journeys.schema import JOURNEY_SCHEMA
from offload.catalog import refresh_catalog_if_enabled
from offload.closed_files import files_without_keys, joined_keys, read_keys, write_partitioned
from offload.closed_table import committed_files
from offload.errors import LakeError, MigrationError
from offload.field_ids import FILE_SCHEMA, has_field_ids
from offload.iceberg_tables import (
    CHANGE,
    CLOSED_TABLE,
    CURRENT_TABLE,
    RUN_ID,
    RUN_PATH,
    STORE_SNAPSHOT_AT,
    TABLES,
    LakeTables,
)
from offload.lake import Lake
from offload.open_table import read_pointer, snapshot_files
from offload.parquet_io import ParquetOptions, audit_files, conform, write_batches
from offload.run_lock import one_run_at_a_time
from offload.settings import OffloadSettings

OPEN_RUN = "migration-open"
CLOSED_RUN = "migration-closed"
#: Name prefix of the copies :func:`add_field_ids` writes (its leftovers are found by it).
FIELD_IDS_PREFIX = "fieldids-"


@dataclass(frozen=True)
class MigrationReport:
    """Rows found in the old layout and rows the tables hold after the import."""

    open_rows: int
    closed_rows: int
    open_table_rows: int
    closed_table_rows: int
    already_migrated: bool
    #: Per table, the data files rewritten with Iceberg field ids by this run.
    rewritten_files: dict[str, int] = field(default_factory=dict)
    #: True when this run renamed the old nightly table journeys_open to journeys_current.
    renamed_open_table: bool = False


def _rows(lake: Lake, paths: list[str]) -> int:
    return sum(pq.read_metadata(path, filesystem=lake.fs).num_rows for path in paths)


def _table_rows(tables: LakeTables, name: str) -> int:
    return _rows(tables.lake, tables.file_paths(name))


def _batches(lake: Lake, paths: list[str]) -> ds.Dataset:
    return ds.dataset(paths, schema=JOURNEY_SCHEMA, filesystem=lake.fs, format="parquet")


@one_run_at_a_time("migration")
def migrate_parquet_lake(settings: OffloadSettings) -> MigrationReport:
    """Import the old layout into the tables, check the counts, refresh the catalog."""
    tables = LakeTables(settings)
    lake = tables.lake
    options = ParquetOptions.from_settings(settings)
    pointer = read_pointer(lake)
    open_paths = snapshot_files(lake, pointer)
    closed_paths = committed_files(lake)
    open_rows, closed_rows = _rows(lake, open_paths), _rows(lake, closed_paths)
    done = [tables.snapshot_of_run(name, run) for name, run in
            ((CURRENT_TABLE, OPEN_RUN), (CLOSED_TABLE, CLOSED_RUN))]  # fmt: skip
    if pointer is not None and done[0] is None:
        path = f"{CURRENT_TABLE}/data/migrated-{uuid.uuid4().hex[:8]}"
        written = write_batches(
            lake, lake.path(path), ["part-0.parquet"], _batches(lake, open_paths).to_batches(),
            options,
        )  # fmt: skip
        files = [lake.path(path, name) for name in written.names]
        audit_files(lake, files, open_rows)
        lake.fsync(files)
        properties = {RUN_ID: OPEN_RUN, RUN_PATH: path, STORE_SNAPSHOT_AT: pointer["snapshot_at"]}
        drop = tables.data_files(CURRENT_TABLE)
        tables.replace(CURRENT_TABLE, drop=drop, add=files, properties=properties)
        if _table_rows(tables, CURRENT_TABLE) != open_rows:
            raise MigrationError(f"{CURRENT_TABLE} holds other than the {open_rows} old rows")
    if closed_paths and done[1] is None:
        before = _table_rows(tables, CLOSED_TABLE)
        prefix = f"migrated-{uuid.uuid4().hex[:8]}"
        written_closed = write_partitioned(
            lake, prefix, _batches(lake, closed_paths).to_batches(), options
        )
        audit_files(lake, [lake.path(path) for path in written_closed.files], closed_rows)
        keys = joined_keys(read_keys(lake, written_closed.files))
        drop, copies = files_without_keys(tables, keys, f"{prefix}-replaced", options)
        replaced = _rows(lake, [lake.fs_path(file.file_path) for file in drop]) - _rows(
            lake, [lake.path(path) for path in copies]
        )
        added = [lake.path(path) for path in [*written_closed.files, *copies]]
        lake.fsync(added)
        properties = {RUN_ID: CLOSED_RUN, CHANGE: f"migrated {closed_rows} rows"}
        tables.replace(CLOSED_TABLE, drop=drop, add=added, properties=properties)
        expected = before - replaced + closed_rows
        if _table_rows(tables, CLOSED_TABLE) != expected:
            raise MigrationError(f"{CLOSED_TABLE} does not hold the expected {expected} rows")
    rewritten = {name: add_field_ids(tables, name, options) for name in TABLES}
    refresh_catalog_if_enabled(settings, lake, tables)
    return MigrationReport(
        open_rows=open_rows,
        closed_rows=closed_rows,
        open_table_rows=_table_rows(tables, CURRENT_TABLE),
        closed_table_rows=_table_rows(tables, CLOSED_TABLE),
        already_migrated=all(snapshot is not None for snapshot in done),
        rewritten_files=rewritten,
        renamed_open_table=tables.upgraded,
    )


def _directory(path: str) -> str:
    return path.rsplit("/", 1)[0]


def _copy_with_field_ids(lake: Lake, source: str, target: str, options: ParquetOptions) -> None:
    """Copy the data file ``source`` to ``target`` with FILE_SCHEMA, one batch at a time."""
    try:
        with lake.atomic_path(target) as tmp:
            reader = pq.ParquetFile(source, filesystem=lake.fs)
            with pq.ParquetWriter(
                tmp, FILE_SCHEMA, filesystem=lake.fs, **options.writer_args()
            ) as writer:
                for batch in reader.iter_batches(batch_size=options.row_group_size):
                    writer.write_batch(conform(batch), row_group_size=options.row_group_size)
    except (OSError, pa.ArrowException) as exc:
        raise LakeError(f"cannot copy {source} with field ids: {exc}") from exc


def add_field_ids(tables: LakeTables, name: str, options: ParquetOptions) -> int:
    """Rewrite the current data files of ``name`` that lack Iceberg field ids, in one commit.

    Returns the number of files rewritten (0: every file carries the ids already).
    """
    lake = tables.lake
    old = [
        file for file in tables.data_files(name)
        if not has_field_ids(lake, lake.fs_path(file.file_path))
    ]  # fmt: skip
    if not old:
        return 0
    sources = [lake.fs_path(file.file_path) for file in old]
    referenced = tables.referenced_paths(name)
    for directory in sorted({_directory(path) for path in sources}):
        for leftover in lake.list_dir(directory, dirs=False):  # an interrupted earlier run
            path = f"{directory}/{leftover}"
            if leftover.lstrip(".").startswith(FIELD_IDS_PREFIX) and path not in referenced:
                lake.delete_file(path)
    token = uuid.uuid4().hex[:8]
    copies = []
    for index, source in enumerate(sources):
        target = f"{_directory(source)}/{FIELD_IDS_PREFIX}{token}-{index}.parquet"
        _copy_with_field_ids(lake, source, target, options)
        copies.append(target)
    rows = _rows(lake, sources)
    audit_files(lake, copies, rows)
    lake.fsync(copies)
    before = _table_rows(tables, name)
    current = tables.table(name).current_snapshot()
    summary = current.summary.additional_properties if current and current.summary else {}
    properties = {key: value for key, value in summary.items() if key.startswith("journeys.")}
    properties[CHANGE] = f"rewrote {len(old)} data files ({rows} rows) with Iceberg field ids"
    tables.replace(name, drop=old, add=copies, properties=properties)
    if _table_rows(tables, name) != before:
        raise MigrationError(f"{name} held {before} rows before the field-id rewrite, not now")
    return len(old)
