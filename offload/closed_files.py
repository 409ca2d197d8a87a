"""Data files of ``journeys_closed``: written one per month of ``closed_at``, never rewritten.

The table is partitioned by ``month(closed_at)`` (see :mod:`offload.iceberg_tables`), and a
data file added to it must hold one partition only, so :func:`write_partitioned` routes each
batch's rows to one file per month::

    journeys_closed/data/closed_month=2026-11/<run>-0.parquet

Removing rows (a key offloaded again, a row the store kept) never edits a file:
:func:`files_without_keys` writes new files without those rows, and the caller commits "drop
the old files, add the new ones" in one Iceberg commit.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from journeys.schema import JOURNEY_SCHEMA, PRIMARY_KEY
from offload.errors import LakeError
from offload.field_ids import FILE_SCHEMA, as_file_table
from offload.iceberg_tables import CLOSED_PARTITION, CLOSED_TABLE, LakeTables
from offload.lake import Lake, is_temporary
from offload.parquet_io import ParquetOptions, conform

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from pyiceberg.manifest import DataFile

DATA = f"{CLOSED_TABLE}/data"


def joined_keys(table: pa.Table | pa.RecordBatch) -> pa.Array:
    """One string per primary key; ``\\x1f`` cannot occur in ids (journeys.schema.ID_PATTERN)."""
    joined = pc.binary_join_element_wise(
        table.column(PRIMARY_KEY[0]), table.column(PRIMARY_KEY[1]), "\x1f"
    )
    if isinstance(joined, pa.ChunkedArray):
        joined = joined.combine_chunks()
    result: pa.Array = joined
    return result


@dataclass
class PartitionedFiles:
    """What :func:`write_partitioned` wrote (paths relative to the lake root)."""

    files: list[str] = field(default_factory=list)
    rows: int = 0
    bytes: int = 0


def write_partitioned(
    lake: Lake,
    prefix: str,
    batches: Iterable[pa.RecordBatch],
    options: ParquetOptions,
    on_batch: Callable[[pa.RecordBatch], None] = lambda batch: None,
) -> PartitionedFiles:
    """Write ``batches`` as one file per month of ``closed_at``, named ``<prefix>-N.parquet``.

    Each file appears under its name only once complete (see :mod:`offload.lake`).
    """
    result = PartitionedFiles()
    writers: dict[str, pq.ParquetWriter] = {}
    with contextlib.ExitStack() as stack:
        try:
            for batch in batches:
                conformed = conform(batch)
                months = pc.strftime(conformed.column("closed_at"), "%Y-%m")
                for month in pc.unique(months).to_pylist():
                    if month not in writers:
                        directory = f"{DATA}/{CLOSED_PARTITION}={month}"
                        relative = f"{directory}/{prefix}-{len(writers)}.parquet"
                        tmp = stack.enter_context(lake.atomic_path(lake.path(relative)))
                        writers[month] = stack.enter_context(
                            pq.ParquetWriter(
                                tmp, FILE_SCHEMA, filesystem=lake.fs, **options.writer_args()
                            )
                        )
                        result.files.append(relative)
                    rows = conformed.filter(pc.equal(months, month))
                    writers[month].write_batch(rows, row_group_size=options.row_group_size)
                result.rows += conformed.num_rows
                on_batch(conformed)
            for writer in writers.values():
                writer.close()
        except (OSError, pa.ArrowException) as exc:
            raise LakeError(f"cannot write {prefix} in {lake.uri}: {exc}") from exc
    result.bytes = sum(lake.size(lake.path(path)) for path in result.files)
    return result


def read_keys(lake: Lake, paths: list[str]) -> pa.Table:
    """The primary keys of the files ``paths`` (relative to the lake root)."""
    columns = list(PRIMARY_KEY)
    try:
        tables = [
            pq.read_table(lake.path(path), columns=columns, filesystem=lake.fs) for path in paths
        ]
    except (OSError, pa.ArrowException) as exc:
        raise LakeError(f"cannot read keys of {paths}: {exc}") from exc
    schema = pa.schema([JOURNEY_SCHEMA.field(name) for name in columns])
    return pa.concat_tables(tables).cast(schema) if tables else schema.empty_table()


def files_without_keys(
    tables: LakeTables, keys: pa.Array, prefix: str, options: ParquetOptions
) -> tuple[list[DataFile], list[str]]:
    """The current files of ``journeys_closed`` holding any of ``keys``, and new files without
    those rows (paths relative to the lake root) to commit in their place."""
    lake = tables.lake
    drop: list[DataFile] = []
    add: list[str] = []
    for file in tables.data_files(CLOSED_TABLE):
        path = lake.fs_path(file.file_path)
        try:
            found = pq.read_table(path, columns=list(PRIMARY_KEY), filesystem=lake.fs)
            hits = pc.is_in(joined_keys(found), value_set=keys)
            if not pc.any(hits).as_py():
                continue
            data = pq.read_table(path, filesystem=lake.fs)
            remaining = data.filter(pc.invert(pc.is_in(joined_keys(data), value_set=keys)))
            drop.append(file)
            if remaining.num_rows == 0:
                continue
            directory = path.rsplit("/", 1)[0]
            relative = directory.removeprefix(lake.root.rstrip("/") + "/")
            target = f"{relative}/{prefix}-{len(add)}.parquet"
            with lake.atomic_path(lake.path(target)) as tmp:
                pq.write_table(
                    as_file_table(remaining),
                    tmp,
                    filesystem=lake.fs,
                    row_group_size=options.row_group_size,
                    **options.writer_args(),
                )
            add.append(target)
        except (OSError, pa.ArrowException) as exc:
            raise LakeError(f"cannot rewrite {path} without {len(keys)} keys: {exc}") from exc
    return drop, add


def delete_unreferenced(tables: LakeTables, prefix: str | None = None) -> list[str]:
    """Delete data files of ``journeys_closed`` no live snapshot reads (only names starting
    with ``prefix`` when given; temporaries always). Returns the deleted paths.

    Callers hold the lake's lock (every job step does, :mod:`offload.run_lock`), so no other run
    commits between the listing of referenced files and the deletes: a file deleted here is one
    no run can commit now. A run of another process that wrote its files earlier and commits
    later finds its manifest or files gone and fails; nothing is purged from the store for it.
    """
    lake = tables.lake
    referenced = tables.referenced_paths(CLOSED_TABLE)
    deleted = []
    for partition in lake.list_dir(lake.path(DATA), dirs=True):
        directory = lake.path(DATA, partition)
        for name in lake.list_dir(directory, dirs=False):
            path = f"{directory}/{name}"
            wanted = prefix is None or name.lstrip(".").startswith(prefix)
            if path not in referenced and (wanted or is_temporary(name)):
                lake.delete_file(path)
                deleted.append(path)
    return deleted
