"""Arrow in and out of PostgreSQL: binary ``COPY`` through ADBC for bulk data, rows for lookups.

Bulk transfer (upsert staging, snapshot scans) goes through ``adbc-driver-postgresql``, which
reads and writes PostgreSQL's binary ``COPY`` format in C++ straight from and into Arrow
buffers (no CSV, no Python object per value). ``content`` travels as its four text fields (the
SQL builds/reads the jsonb object), ``attributes`` as JSON text. Lookups are small and go through
psycopg's prepared statements (:func:`rows_to_table`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final

import pyarrow as pa

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


def staged_table(table: pa.Table) -> pa.Table:
    """A validated JOURNEY_SCHEMA table as the flat :data:`STAGED_COLUMNS` (for ingest)."""
    flat = table.flatten()
    flat = flat.rename_columns([name.replace(".", "_") for name in flat.column_names])
    return flat.select(list(STAGED_COLUMNS))


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


def journey_batches(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """JOURNEY_SCHEMA batches from batches of :func:`select_list_sql` (ADBC's reader)."""
    for batch in batches:
        if batch.num_rows:
            columns = {name: batch.column(name) for name in FLAT_COLUMNS}
            yield from _assemble(columns, batch.num_rows).to_batches()
