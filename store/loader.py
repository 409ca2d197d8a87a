"""Load journeys from files (Parquet, CSV, JSON lines) into the store, keeping every bad row.

Each input row is converted to JOURNEY_SCHEMA and checked with the server's own rules
(:mod:`store.validation`). Good rows are upserted in batches; every bad row is written
to a rejects file (JSON lines: file, row, column, reason, the original record). Nothing is
dropped silently: ``loaded + rejected`` is the number of input rows.

CSV and JSON lines hold ``content`` and ``attributes`` as JSON (objects in JSON lines may also
be nested), timestamps as ISO-8601 with an offset (``2025-06-01T10:00:00Z``).

Malformed input is accounted for row by row, never guessed:

- a CSV row with too few or too many fields is rejected (``column`` ``*``, the raw line kept);
- in CSV only an empty field is null: ``NA``, ``null``, ``N/A`` are ordinary text (a legitimate
  id or name), not missing values;
- Parquet timestamps in nanoseconds are converted when exact (whole microseconds); a row with
  sub-microsecond digits is rejected (the store keeps microseconds; truncating would change
  the value silently);
- a file that cannot be read any further (e.g. invalid UTF-8 in a CSV) stops the load with a
  :class:`LoaderError` that says how many rows were loaded and rejected before it (upserts are
  idempotent: fix the file and load it again).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from journeys.schema import JOURNEY_SCHEMA
from store.csv_input import read_csv
from store.errors import LoaderError
from store.input_rows import InputChunk, convert_records
from store.interface import JourneyStore
from store.validation import (
    SERVER_STAMPED,
    SUB_MICROSECOND,
    BatchRejected,
    Rejection,
    conform_columns,
    split_valid,
)

__all__ = ["BATCH_ROWS", "LoadSummary", "LoaderError", "default_rejects_path", "load_files"]

BATCH_ROWS: Final = 50_000
SUFFIXES: Final = {".parquet": "parquet", ".csv": "csv", ".jsonl": "json", ".ndjson": "json",
                   ".json": "json"}  # fmt: skip


@dataclass
class LoadSummary:
    """What a load did: rows loaded, rows rejected, and where the rejects were written."""

    loaded: int = 0
    rejected: int = 0
    rejects_files: list[Path] = field(default_factory=list)


def default_rejects_path(path: Path) -> Path:
    """``data.csv`` → ``data.csv.rejects.jsonl`` next to it."""
    return path.with_name(path.name + ".rejects.jsonl")


def _read_json_lines(path: Path, batch_rows: int) -> Iterator[InputChunk]:
    with path.open("rb") as handle:
        first = 1
        records: list[dict[str, Any] | None] = []
        raw_lines: list[bytes] = []
        for line in handle:
            if not line.strip():
                continue
            raw_lines.append(line)
            try:
                parsed = orjson.loads(line)
            except orjson.JSONDecodeError:
                parsed = None
            records.append(parsed if isinstance(parsed, dict) else None)
            if len(records) >= batch_rows:
                yield _with_raw_lines(convert_records(records, first), raw_lines)
                first += len(records)
                records, raw_lines = [], []
        if records:
            yield _with_raw_lines(convert_records(records, first), raw_lines)


def _with_raw_lines(chunk: InputChunk, lines: list[bytes]) -> InputChunk:
    for i, record in enumerate(chunk.raw):
        if not record:
            chunk.raw[i] = {"line": lines[i].decode(errors="replace").rstrip("\n")}
    return chunk


def _read_parquet(path: Path, batch_rows: int) -> Iterator[InputChunk]:
    first = 1
    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
        exact, rejections = _whole_microseconds(batch)
        try:
            table = conform_columns(exact)
        except BatchRejected as exc:
            # A column problem affects every row: reject them all with that reason.
            table = JOURNEY_SCHEMA.empty_table()
            rejections = [
                Rejection(i, exc.rejection.column, exc.rejection.reason)
                for i in range(batch.num_rows)
            ]
        yield InputChunk(table, _records(batch), first, rejections)
        first += batch.num_rows


def _records(batch: pa.RecordBatch) -> list[dict[str, Any]]:
    """The rows as dicts for the rejects file; nanosecond timestamps as text (no datetime)."""
    columns = [
        pc.cast(column, pa.string())
        if pa.types.is_timestamp(column.type) and getattr(column.type, "unit", None) == "ns"
        else column
        for column in batch.columns
    ]
    records: list[dict[str, Any]] = pa.RecordBatch.from_arrays(
        columns, names=batch.schema.names
    ).to_pylist()
    return records


def _whole_microseconds(batch: pa.RecordBatch) -> tuple[pa.RecordBatch, list[Rejection]]:
    """Nanosecond timestamp columns as microseconds; a row that would lose digits is rejected.

    The rejected rows keep a truncated value in the returned batch; the loader never stores
    them (their rejection excludes them from the upsert).
    """
    rejections: dict[int, Rejection] = {}
    columns = []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        unit = getattr(column.type, "unit", None)
        if pa.types.is_timestamp(column.type) and unit == "ns":
            nanos = pc.cast(column, pa.int64())
            lossy = pc.fill_null(pc.not_equal(pc.remainder(nanos, 1000), 0), False)
            for row in pc.indices_nonzero(lossy).to_pylist():
                rejections.setdefault(row, Rejection(row, name, SUB_MICROSECOND))
            column = pc.cast(column, pa.timestamp("us", column.type.tz), safe=False)
        columns.append(column)
    if not rejections:
        return batch, []
    exact = pa.RecordBatch.from_arrays(columns, names=batch.schema.names)
    return exact, [rejections[row] for row in sorted(rejections)]


def read_chunks(path: Path, batch_rows: int = BATCH_ROWS) -> Iterator[InputChunk]:
    """Chunks of converted rows from one input file."""
    if not path.is_file():
        raise LoaderError(f"file not found: {path}")
    kind = SUFFIXES.get(path.suffix.lower())
    if kind == "parquet":
        return _read_parquet(path, batch_rows)
    if kind == "csv":
        return read_csv(path, batch_rows)
    if kind == "json":
        return _read_json_lines(path, batch_rows)
    raise LoaderError(f"unknown file type {path.suffix!r} (use .parquet, .csv or .jsonl)")


class _RejectsWriter:
    """Opens a rejects file on the first bad row only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[bytes] | None = None

    def write(self, source: Path, row: int, rejection: Rejection, record: Any) -> None:
        if self._handle is None:
            self._handle = self.path.open("wb")
        line = {"file": str(source), "row": row, "column": rejection.column,
                "reason": rejection.reason, "record": record}  # fmt: skip
        self._handle.write(orjson.dumps(line, default=str) + b"\n")

    @property
    def used(self) -> bool:
        return self._handle is not None

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


def load_files(
    paths: list[Path],
    client: JourneyStore,
    *,
    rejects: Path | None = None,
    batch_rows: int = BATCH_ROWS,
    on_rows: Callable[[int], None] | None = None,
) -> LoadSummary:
    """Validate and upsert every row of ``paths``; bad rows go to the rejects file(s).

    ``rejects`` collects the bad rows of all files; by default each file gets its own
    :func:`default_rejects_path`. ``on_rows`` is told how many input rows were handled.
    """
    for path in paths:
        if not path.is_file():
            raise LoaderError(f"file not found: {path}")
    summary = LoadSummary()
    shared = _RejectsWriter(rejects) if rejects is not None else None
    try:
        for path in paths:
            writer = shared or _RejectsWriter(default_rejects_path(path))
            try:
                for chunk in read_chunks(path, batch_rows):
                    _load_chunk(path, chunk, client, writer, summary)
                    if on_rows is not None:
                        on_rows(len(chunk.raw))
            except LoaderError as exc:
                raise LoaderError(
                    f"{exc}; {summary.loaded} rows were loaded and {summary.rejected} rejected "
                    "before it (upserts are idempotent: fix the file and load it again)"
                ) from None
            finally:
                if writer is not shared:
                    writer.close()
                    if writer.used:
                        summary.rejects_files.append(writer.path)
    finally:
        if shared is not None:
            shared.close()
            if shared.used:
                summary.rejects_files.append(shared.path)
    return summary


def _load_chunk(
    path: Path,
    chunk: InputChunk,
    client: JourneyStore,
    writer: _RejectsWriter,
    summary: LoadSummary,
) -> None:
    converted_bad = {r.row for r in chunk.rejections if r.row is not None}
    rejections = list(chunk.rejections)
    table = chunk.table
    if chunk.table.num_rows:
        numbered = table.append_column("_row", pa.array(range(table.num_rows), pa.int64()))
        if converted_bad:
            keep = [i for i in range(table.num_rows) if i not in converted_bad]
            numbered = numbered.take(pa.array(keep, pa.int64()))
        rows = numbered.column("_row").to_pylist()
        good, found = split_valid(numbered.drop_columns(["_row"]))
        for rejection in found:
            original = None if rejection.row is None else rows[rejection.row]
            rejections.append(Rejection(original, rejection.column, rejection.reason))
        if good.num_rows:
            client.upsert(good.drop_columns(list(SERVER_STAMPED)))
            summary.loaded += good.num_rows
    for rejection in sorted(rejections, key=lambda r: r.row or 0):
        row = rejection.row or 0
        writer.write(path, chunk.number(row), rejection, chunk.raw[row])
        summary.rejected += 1
