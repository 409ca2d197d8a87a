"""Arrow in and out of PostgreSQL: CSV ``COPY`` for bulk data, rows for small lookups.

Measured on this machine (docs/store-backends.md): pyarrow writes and parses CSV in C++, so
``COPY ... (FORMAT csv)`` moves a batch faster than psycopg's per-row binary ``COPY`` from
Python. ``content`` travels as its four text fields (the SQL builds/reads the jsonb object),
``attributes`` as JSON text. In CSV an unquoted empty field is NULL and ``""`` the empty
string, on both sides.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final

import pyarrow as pa
import pyarrow.csv as pacsv

from journeys.schema import CONTENT_TYPE, JOURNEY_SCHEMA, UTC_TIMESTAMP

CONTENT_FIELDS: Final = tuple(field.name for field in CONTENT_TYPE)
#: The flat columns a journey travels as (``content`` split into ``content_<field>``).
FLAT_COLUMNS: Final = tuple(
    name
    for field in JOURNEY_SCHEMA
    for name in (
        [f"content_{child}" for child in CONTENT_FIELDS]
        if field.type == CONTENT_TYPE
        else [field.name]
    )
)
#: What an upsert stages (the server stamps ``updated_at``).
STAGED_COLUMNS: Final = tuple(name for name in FLAT_COLUMNS if name != "updated_at")
_FLAT_TYPES: Final = {
    name: (pa.string() if name.startswith("content_") else JOURNEY_SCHEMA.field(name).type)
    for name in FLAT_COLUMNS
}
_SQL_TYPES: Final = {pa.string(): "text", pa.int32(): "integer", UTC_TIMESTAMP: "timestamptz"}
CSV_BLOCK_BYTES: Final = 1 << 20


def staging_columns_sql() -> str:
    """Column definitions of the upsert staging table."""
    return ", ".join(f"{name} {_SQL_TYPES[_FLAT_TYPES[name]]}" for name in STAGED_COLUMNS)


def select_list_sql() -> str:
    """The journeys table's columns as :data:`FLAT_COLUMNS` (for lookups and scans)."""
    parts = []
    for name in FLAT_COLUMNS:
        if name.startswith("content_"):
            parts.append(f"content ->> '{name.removeprefix('content_')}' AS {name}")
        elif name == "attributes":
            parts.append("attributes::text AS attributes")
        else:
            parts.append(name)
    return ", ".join(parts)


def content_object_sql(prefix: str = "") -> str:
    """SQL building the ``content`` jsonb object from the staged flat fields."""
    pairs = ", ".join(f"'{child}', {prefix}content_{child}" for child in CONTENT_FIELDS)
    return f"jsonb_strip_nulls(jsonb_build_object({pairs}))"


def to_csv(table: pa.Table) -> bytes:
    """A validated JOURNEY_SCHEMA table as CSV of :data:`STAGED_COLUMNS` (with header)."""
    flat = table.flatten()
    flat = flat.rename_columns([name.replace(".", "_") for name in flat.column_names])
    sink = io.BytesIO()
    pacsv.write_csv(flat.select(list(STAGED_COLUMNS)), sink)
    return sink.getvalue()


def _assemble(columns: dict[str, pa.Array | pa.ChunkedArray], length: int) -> pa.Table:
    content = pa.StructArray.from_arrays(
        [_combined(columns[f"content_{child}"]) for child in CONTENT_FIELDS],
        fields=list(CONTENT_TYPE),
    )
    arrays = [
        content if field.type == CONTENT_TYPE else columns[field.name] for field in JOURNEY_SCHEMA
    ]
    if length == 0:
        return JOURNEY_SCHEMA.empty_table()
    return pa.Table.from_arrays(arrays, schema=JOURNEY_SCHEMA)


def _combined(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def rows_to_table(rows: Sequence[tuple[Any, ...]]) -> pa.Table:
    """Rows of :func:`select_list_sql` (psycopg tuples) as a JOURNEY_SCHEMA table."""
    if not rows:
        return JOURNEY_SCHEMA.empty_table()
    values = list(zip(*rows, strict=True))
    columns = {name: pa.array(values[i], _FLAT_TYPES[name]) for i, name in enumerate(FLAT_COLUMNS)}
    return _assemble(columns, len(rows))


def _blocks(chunks: Iterable[bytes | bytearray | memoryview]) -> Iterator[bytes]:
    """``COPY`` output (one chunk per row from libpq) joined into blocks of ~1 MB."""
    pending: list[bytes | bytearray | memoryview] = []
    size = 0
    for chunk in chunks:
        pending.append(chunk)
        size += len(chunk)
        if size >= CSV_BLOCK_BYTES:
            yield b"".join(pending)
            pending, size = [], 0
    if pending:
        yield b"".join(pending)


class _ChunkReader(io.RawIOBase):
    """A readable file over an iterator of byte blocks."""

    def __init__(self, blocks: Iterator[bytes]) -> None:
        self._blocks = blocks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = memoryview(next(self._blocks))
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def csv_batches(chunks: Iterable[bytes | bytearray | memoryview]) -> Iterator[pa.RecordBatch]:
    """JOURNEY_SCHEMA batches parsed from CSV (with header) of :data:`FLAT_COLUMNS`."""
    reader = pacsv.open_csv(
        io.BufferedReader(_ChunkReader(_blocks(chunks)), CSV_BLOCK_BYTES),
        read_options=pacsv.ReadOptions(use_threads=False, block_size=CSV_BLOCK_BYTES),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=_FLAT_TYPES,
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )
    for batch in reader:
        if batch.num_rows:
            columns = {name: batch.column(name) for name in FLAT_COLUMNS}
            yield from _assemble(columns, batch.num_rows).to_batches()
