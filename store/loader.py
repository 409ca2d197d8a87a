"""Load journeys from files (Parquet, CSV, JSON lines) into the store, keeping every bad row.

Each input row is converted to JOURNEY_SCHEMA and checked with the server's own rules
(:mod:`store.validation`). Good rows are upserted in batches; every bad row is written
to a rejects file (JSON lines: file, row, column, reason, the original record). Nothing is
dropped silently: ``loaded + rejected`` is the number of input rows.

CSV and JSON lines hold ``content`` and ``attributes`` as JSON (objects in JSON lines may also
be nested), timestamps as ISO-8601 with an offset (``2025-06-01T10:00:00Z``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Final

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from journeys.schema import CONTENT_TYPE, JOURNEY_SCHEMA
from store.client import to_micros
from store.interface import JourneyStore
from store.validation import (
    CONFORMED_SCHEMA,
    SERVER_STAMPED,
    BatchRejected,
    Rejection,
    conform_columns,
    split_valid,
)

BATCH_ROWS: Final = 50_000
SUFFIXES: Final = {".parquet": "parquet", ".csv": "csv", ".jsonl": "json", ".ndjson": "json",
                   ".json": "json"}  # fmt: skip


class LoaderError(Exception):
    """The input cannot be read at all (missing file, unknown format)."""


@dataclass
class LoadSummary:
    """What a load did: rows loaded, rows rejected, and where the rejects were written."""

    loaded: int = 0
    rejected: int = 0
    rejects_files: list[Path] = field(default_factory=list)


@dataclass
class _Chunk:
    """Input rows converted to the schema, the raw records, and their 1-based row numbers."""

    table: pa.Table
    raw: list[dict[str, Any]]
    first_row: int
    rejections: list[Rejection]


def default_rejects_path(path: Path) -> Path:
    """``data.csv`` → ``data.csv.rejects.jsonl`` next to it."""
    return path.with_name(path.name + ".rejects.jsonl")


# -- row-wise conversion (CSV, JSON lines) -------------------------------------------------
def _to_string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {type(value).__name__}")
    return value


def _to_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"expected an integer, got {value!r}")
    number = int(value)
    if not -(2**31) <= number < 2**31:
        raise ValueError("integer out of range")
    return number


def _to_micros(value: Any) -> int:
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO-8601 timestamp, got {value!r}")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("timestamp has no time zone offset")
    return to_micros(moment)


def _to_object(value: Any) -> dict[str, Any]:
    parsed = orjson.loads(value) if isinstance(value, str) else value
    if not isinstance(parsed, dict):
        raise ValueError("expected a JSON object")
    return parsed


def _to_content(value: Any) -> dict[str, Any]:
    content = _to_object(value)
    unknown = set(content) - {f.name for f in CONTENT_TYPE}
    if unknown:
        raise ValueError(f"unknown content fields {sorted(unknown)}")
    return {f.name: None if content.get(f.name) is None else _to_string(content[f.name])
            for f in CONTENT_TYPE}  # fmt: skip


def _to_attributes(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _converter(field_: pa.Field) -> Callable[[Any], Any]:
    if field_.name == "attributes":
        return _to_attributes
    if field_.type == CONTENT_TYPE:
        return _to_content
    if pa.types.is_timestamp(field_.type):
        return _to_micros
    if pa.types.is_int32(field_.type):
        return _to_int
    return _to_string


_CONVERTERS: Final = {f.name: _converter(f) for f in JOURNEY_SCHEMA}


def _convert_records(records: list[dict[str, Any] | None], first_row: int) -> _Chunk:
    """Convert records row by row; a row failing conversion is rejected, not guessed."""
    rejections: list[Rejection] = []
    columns: dict[str, list[Any]] = {name: [] for name in _CONVERTERS}
    for index, record in enumerate(records):
        problem: Rejection | None = None
        if record is None:
            problem = Rejection(index, "*", "line is not a JSON object")
            record = {}
        for name in record:
            if name not in _CONVERTERS and problem is None:
                problem = Rejection(index, name, "unknown column")
        for name, convert in _CONVERTERS.items():
            value = record.get(name)
            converted: Any = None
            if value is not None and value != "":
                try:
                    converted = convert(value)
                except (ValueError, TypeError, orjson.JSONDecodeError) as exc:
                    if problem is None:
                        problem = Rejection(index, name, str(exc))
            columns[name].append(converted)
        if problem is not None:
            rejections.append(problem)
    arrays = []
    for field_ in JOURNEY_SCHEMA:
        values = columns[field_.name]
        if pa.types.is_timestamp(field_.type):
            arrays.append(pa.array(values, pa.int64()).cast(field_.type))
        else:
            arrays.append(pa.array(values, field_.type))
    table = pa.Table.from_arrays(arrays, schema=CONFORMED_SCHEMA)
    raw = [record if record is not None else {} for record in records]
    return _Chunk(table, raw, first_row, rejections)


def _read_json_lines(path: Path, batch_rows: int) -> Iterator[_Chunk]:
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
                yield _with_raw_lines(_convert_records(records, first), raw_lines)
                first += len(records)
                records, raw_lines = [], []
        if records:
            yield _with_raw_lines(_convert_records(records, first), raw_lines)


def _with_raw_lines(chunk: _Chunk, lines: list[bytes]) -> _Chunk:
    for i, record in enumerate(chunk.raw):
        if not record:
            chunk.raw[i] = {"line": lines[i].decode(errors="replace").rstrip("\n")}
    return chunk


def _read_csv(path: Path, batch_rows: int) -> Iterator[_Chunk]:
    with path.open("rb") as handle:
        header = handle.readline().decode().strip().split(",")
    options = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in header}, strings_can_be_null=True
    )
    reader = pacsv.open_csv(path, convert_options=options)
    first = 1
    for batch in reader:
        records = batch.to_pylist()
        for start in range(0, len(records), batch_rows):
            part = records[start : start + batch_rows]
            yield _convert_records(list(part), first)
            first += len(part)


def _read_parquet(path: Path, batch_rows: int) -> Iterator[_Chunk]:
    first = 1
    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
        try:
            table = conform_columns(batch)
            rejections: list[Rejection] = []
        except BatchRejected as exc:
            # A column problem affects every row: reject them all with that reason.
            table = JOURNEY_SCHEMA.empty_table()
            rejections = [
                Rejection(i, exc.rejection.column, exc.rejection.reason)
                for i in range(batch.num_rows)
            ]
        yield _Chunk(table, batch.to_pylist(), first, rejections)
        first += batch.num_rows


def read_chunks(path: Path, batch_rows: int = BATCH_ROWS) -> Iterator[_Chunk]:
    """Chunks of converted rows from one input file."""
    if not path.is_file():
        raise LoaderError(f"file not found: {path}")
    kind = SUFFIXES.get(path.suffix.lower())
    if kind == "parquet":
        return _read_parquet(path, batch_rows)
    if kind == "csv":
        return _read_csv(path, batch_rows)
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
    path: Path, chunk: _Chunk, client: JourneyStore, writer: _RejectsWriter, summary: LoadSummary
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
        writer.write(path, chunk.first_row + row, rejection, chunk.raw[row])
        summary.rejected += 1
