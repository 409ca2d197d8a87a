"""Writing journeys to Parquet files in the lake, and auditing what was written.

Every file carries exactly :data:`offload.field_ids.FILE_SCHEMA`: the store's
:data:`journeys.schema.JOURNEY_SCHEMA` with the Iceberg field id of every field (pyarrow stores
the Arrow schema, with nullability, time zones and metadata, in the Parquet footer, and writes
the ids as the Parquet field ids Iceberg readers resolve columns by).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from journeys.schema import JOURNEY_SCHEMA, PRIMARY_KEY
from offload.errors import AuditFailed, LakeError, OffloadError
from offload.field_ids import FILE_SCHEMA
from offload.lake import Lake

if TYPE_CHECKING:
    from offload.settings import OffloadSettings

_PUT_TIMEOUT_S = 1.0

# Dictionary-encode only the low-cardinality columns: building a dictionary for ids, URLs and
# JSON only to fall back to plain encoding costs ~20 % of the write time.
DICTIONARY_COLUMNS: Final = (
    "campaign",
    "journey_name",
    "channel",
    "status",
    "content.title",
    "content.body",
    "content.image_url",
)
# Min/max statistics where engines prune with them (keys, categories, numbers, times); on long
# free-text columns they cost ~30 % of the write time and prune nothing.
STATISTICS_COLUMNS: Final = (
    "customer_id",
    "journey_id",
    "campaign",
    "channel",
    "status",
    "step",
    "priority",
    "valid_from",
    "valid_to",
    "created_at",
    "updated_at",
    "closed_at",
)
_JOIN_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class ParquetOptions:
    """How to encode the files."""

    row_group_size: int
    compression: str
    compression_level: int | None

    @classmethod
    def from_settings(cls, settings: OffloadSettings) -> ParquetOptions:
        """The Parquet encoding the settings ask for."""
        level = settings.compression_level if settings.compression == "zstd" else None
        return cls(settings.row_group_size, settings.compression, level)

    def writer_args(self) -> dict[str, Any]:
        """Keyword arguments of ``pq.ParquetWriter`` / ``pq.write_table`` for this encoding."""
        return {
            "compression": self.compression,
            "compression_level": self.compression_level,
            "use_dictionary": list(DICTIONARY_COLUMNS),
            "write_statistics": list(STATISTICS_COLUMNS),
        }


@dataclass(frozen=True)
class WrittenFiles:
    """What :func:`write_batches` wrote: file names, rows and bytes on the lake."""

    names: list[str]
    rows: int
    bytes: int


def conform(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` labelled with :data:`JOURNEY_SCHEMA`; refuses other columns or types."""
    if batch.schema.equals(JOURNEY_SCHEMA, check_metadata=True):
        return batch
    if batch.schema.names != JOURNEY_SCHEMA.names:
        raise OffloadError(f"store sent columns {batch.schema.names}, expected JOURNEY_SCHEMA")
    for got, expected in zip(batch.schema, JOURNEY_SCHEMA, strict=True):
        if got.type != expected.type:
            raise OffloadError(
                f"store batch does not match JOURNEY_SCHEMA: {got.name} is {got.type}, "
                f"expected {expected.type}"
            )
    return pa.RecordBatch.from_arrays(batch.columns, schema=JOURNEY_SCHEMA)


class _FileWriter:
    """One Parquet file fed by a bounded queue and written by its own thread.

    pyarrow releases the GIL while encoding and compressing, so several writers use several
    cores while the main thread keeps reading batches from the store.
    """

    def __init__(self, lake: Lake, tmp: str, options: ParquetOptions) -> None:
        self.options = options
        # The batches are JOURNEY_SCHEMA; the file's schema adds the Iceberg field ids.
        self.writer = pq.ParquetWriter(
            tmp, FILE_SCHEMA, filesystem=lake.fs, **options.writer_args()
        )
        self.queue: queue.Queue[pa.RecordBatch | None] = queue.Queue(maxsize=4)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        pending: list[pa.RecordBatch] = []
        pending_rows = 0
        size = self.options.row_group_size
        batch: pa.RecordBatch | None = None
        try:
            while (batch := self.queue.get()) is not None:
                pending.append(batch)
                pending_rows += batch.num_rows
                if pending_rows >= size:
                    # Whole row groups now; the remainder starts the next one.
                    table = pa.Table.from_batches(pending, JOURNEY_SCHEMA)
                    full = pending_rows - pending_rows % size
                    self.writer.write_table(table.slice(0, full), row_group_size=size)
                    pending = table.slice(full).to_batches()
                    pending_rows -= full
            if pending_rows:
                table = pa.Table.from_batches(pending, JOURNEY_SCHEMA)
                self.writer.write_table(table, row_group_size=size)
        except BaseException as exc:  # reported to the main thread
            self.error = exc
            # Keep draining so the producer never blocks on a dead writer (unless the end
            # marker was taken already: a failure while writing the last row group).
            while batch is not None and (batch := self.queue.get()) is not None:
                pass

    def put(self, batch: pa.RecordBatch | None) -> None:
        while True:
            if not self.thread.is_alive():
                raise LakeError(f"Parquet writer stopped: {self.error}") from self.error
            try:
                self.queue.put(batch, timeout=_PUT_TIMEOUT_S)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        """Stop the thread and close the file, always; :class:`LakeError` if anything failed.

        Every writer must be closed here: one left open is closed by the garbage collector
        later, writing to a file its job has given up on (and raising where nobody catches it).
        """
        with contextlib.suppress(LakeError):  # the thread died of self.error, reported below
            self.put(None)
        self.thread.join(timeout=_JOIN_TIMEOUT_S)
        failure = self.error
        try:
            self.writer.close()
        except (OSError, pa.ArrowException) as exc:
            failure = failure or exc
            self._abandon()
        if failure is not None:
            raise LakeError(f"writing Parquet failed: {failure}") from failure

    def _abandon(self) -> None:
        """After a failed close: never try again (``ParquetWriter.__del__`` would, at some later
        garbage collection). The stream is closed now instead (pyarrow has no abort; its
        destructor would close it too): on an object store that may leave a torn object at
        the path, which no commit references (the run fails before it) and its rerun replaces."""
        self.writer.is_open = False
        handle = getattr(self.writer, "file_handle", None)
        if handle is not None and not handle.closed:
            with contextlib.suppress(OSError, pa.ArrowException):
                handle.close()


def write_batches(
    lake: Lake,
    directory: str,
    names: list[str],
    batches: Iterable[pa.RecordBatch],
    options: ParquetOptions,
    on_batch: Callable[[pa.RecordBatch], None] = lambda batch: None,
) -> WrittenFiles:
    """Write ``batches`` round-robin into the files ``names`` in ``directory``.

    Each file is written under a temporary name and appears under its own name only once it is
    complete (see :mod:`offload.lake`).
    """
    rows = 0
    with contextlib.ExitStack() as stack:
        tmps = [stack.enter_context(lake.atomic_path(f"{directory}/{name}")) for name in names]
        try:
            writers = [_FileWriter(lake, tmp, options) for tmp in tmps]
        except (OSError, pa.ArrowException) as exc:
            raise LakeError(f"cannot create Parquet files in {directory}: {exc}") from exc
        try:
            for index, batch in enumerate(batches):
                conformed = conform(batch)
                writers[index % len(writers)].put(conformed)
                rows += conformed.num_rows
                on_batch(conformed)
        finally:
            errors = []
            for writer in writers:
                try:
                    writer.finish()
                except LakeError as exc:
                    errors.append(exc)
        if errors:
            raise errors[0]
    size = sum(lake.size(f"{directory}/{name}") for name in names)
    return WrittenFiles(names=names, rows=rows, bytes=size)


@dataclass(frozen=True)
class AuditReport:
    """What an audit checked: the rows found and their distinct primary keys."""

    rows: int
    distinct_keys: int


def audit_files(lake: Lake, paths: list[str], expected_rows: int) -> AuditReport:
    """Check that ``paths`` hold ``expected_rows`` rows of FILE_SCHEMA with a unique key.

    Raises :class:`AuditFailed` naming what differs.
    """
    for path in paths:
        try:
            schema = pq.read_schema(path, filesystem=lake.fs)
        except (OSError, pa.ArrowException) as exc:
            raise AuditFailed(f"cannot read {path}: {exc}") from exc
        if not schema.equals(FILE_SCHEMA, check_metadata=True):
            raise AuditFailed(
                f"{path}: schema differs from JOURNEY_SCHEMA with Iceberg field ids:\n{schema}"
            )
    dataset = ds.dataset(paths, schema=JOURNEY_SCHEMA, filesystem=lake.fs, format="parquet")
    keys = ", ".join(PRIMARY_KEY)
    con = duckdb.connect()
    try:
        con.register("written", dataset)
        # Distinct 64-bit key hashes first: ~25 % less CPU than distinct string pairs (see
        # docs/store-and-offload-performance.md). Equal keys always hash equal, so duplicates
        # are never missed; only a hash collision can undercount, and then the exact count
        # decides.
        # ``keys`` is the schema's primary-key column list, not input.
        row = con.execute(f"SELECT count(*), count(DISTINCT hash({keys})) FROM written").fetchone()  # noqa: S608
        if row is not None and row[1] != row[0]:
            row = con.execute(f"SELECT count(*), count(DISTINCT ({keys})) FROM written").fetchone()  # noqa: S608
    except duckdb.Error as exc:
        raise AuditFailed(f"cannot audit {paths}: {exc}") from exc
    finally:
        con.close()
    if row is None:  # count(*) always returns one row; this guards the type
        raise AuditFailed(f"cannot audit {paths}: the count query returned nothing")
    report = AuditReport(rows=int(row[0]), distinct_keys=int(row[1]))
    if report.rows != expected_rows:
        raise AuditFailed(f"{report.rows} rows written, the snapshot had {expected_rows}")
    if report.distinct_keys != report.rows:
        duplicates = report.rows - report.distinct_keys
        raise AuditFailed(f"primary key not unique: {duplicates} duplicate rows")
    return report
