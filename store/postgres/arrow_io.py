"""Arrow in and out of PostgreSQL: binary ``COPY`` through ADBC for bulk data, rows for lookups.

Bulk transfer (upsert staging, snapshot scans) goes through ``adbc-driver-postgresql``, which
reads and writes PostgreSQL's binary ``COPY`` format in C++ straight from and into Arrow
buffers (no CSV, no Python object per value). ``content`` travels as its four text fields (the
SQL builds/reads the jsonb object), ``attributes`` as JSON text.

Lookups go through psycopg's prepared statements. One customer's few rows come back as rows
(:func:`rows_to_table`); several customers' come back **packed**: one row whose values
are each column's values concatenated as ``bytea`` in PostgreSQL's binary send format
(:func:`packed_select_sql`), which :func:`packed_to_table` turns into Arrow arrays with numpy,
with no Python object per value (rows cost ~0.3 µs of client CPU per value to fetch and
convert, most of a batch lookup's time; unpacking costs ~0.2 ms whatever the size, more than
rows cost for one customer; docs/performance/postgres-store/).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final

import numpy as np
import pyarrow as pa

from journeys.schema import CONTENT_TYPE, JOURNEY_SCHEMA, UTC_TIMESTAMP
from store.errors import StoreInternalError

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


def _select_expressions() -> dict[str, str]:
    """Each of :data:`FLAT_COLUMNS` as a SQL expression on the journeys table."""
    expressions = {}
    for name in FLAT_COLUMNS:
        if name.startswith("content_"):
            expressions[name] = f"content ->> '{name.removeprefix('content_')}'"
        elif name == "attributes":
            expressions[name] = "attributes::text"
        else:
            expressions[name] = name
    return expressions


#: Microseconds from the Unix epoch to PostgreSQL's (2000-01-01), where binary timestamps start.
_PG_EPOCH_US: Final = 946_684_800_000_000
_NULLABLE_TIMESTAMPS: Final = frozenset(
    f.name for f in JOURNEY_SCHEMA if f.type == UTC_TIMESTAMP and f.nullable
)


_TEXT_COLUMNS: Final = tuple(name for name in FLAT_COLUMNS if _FLAT_TYPES[name] == pa.string())
_NULLABLE_TEXT: Final = frozenset(
    name
    for name in _TEXT_COLUMNS
    if name.startswith("content_") and CONTENT_TYPE.field(name.removeprefix("content_")).nullable
)


def _fixed_fields() -> list[tuple[str, str]]:
    fields = []
    for name in FLAT_COLUMNS:
        if name in _NULLABLE_TEXT:
            fields.append((f"{name}_null", "?"))
        elif _FLAT_TYPES[name] == pa.int32():
            fields.append((name, ">i4"))
        elif name not in _TEXT_COLUMNS:
            fields.append((name, ">i8"))
            if name in _NULLABLE_TIMESTAMPS:
                fields.append((f"{name}_null", "?"))
    return fields


#: A packed row's fixed-width record per journey, big-endian as PostgreSQL sends them: ``int4``
#: integers, ``int8`` timestamps (µs since 2000-01-01; null sent as 0), a ``bool`` per nullable
#: column (true: null).
_FIXED_DTYPE: Final = np.dtype(_fixed_fields())


def packed_select_sql(source: str) -> str:
    """One row packing every row of ``source`` (``FROM ...`` and conditions on the journeys
    table or view), read by :func:`packed_to_table`; all values ``bytea`` in PostgreSQL's
    binary send format, rows in the same (unspecified) order in each:

    * the row count;
    * the fixed-width columns and null flags, one record per row (:data:`_FIXED_DTYPE`);
    * per text column, its values' bytes separated by a zero byte (PostgreSQL text never holds
      one; a null is sent as the empty string and flagged in the fixed record).

    Every function call per row and value costs the server 0.1 to 0.2 µs, so the packing uses as
    few as it can (docs/performance/postgres-store/).
    """
    expressions = _select_expressions()
    fixed, texts = [], []
    for name in FLAT_COLUMNS:
        expression = expressions[name]
        if name in _TEXT_COLUMNS:
            value = f"textsend({expression})"
            if name in _NULLABLE_TEXT:
                fixed.append(f"boolsend({expression} IS NULL)")
                value = f"coalesce({value}, ''::bytea)"
            texts.append(f"string_agg({value}, '\\x00'::bytea)")
        elif _FLAT_TYPES[name] == pa.int32():
            fixed.append(f"int4send({expression})")
        else:
            fixed.append(f"timestamptz_send(coalesce({expression}, '2000-01-01 00:00:00+00'))")
            if name in _NULLABLE_TIMESTAMPS:
                fixed.append(f"boolsend({expression} IS NULL)")
    outer = ["count(*)", f"string_agg({' || '.join(fixed)}, ''::bytea)", *texts]
    return f"SELECT {', '.join(outer)} {source}"


def _split_strings(length: int, packed: bytes, nulls: np.ndarray[Any, Any] | None) -> pa.Array:
    """``length`` strings from their bytes separated by zero bytes."""
    data = np.frombuffer(packed, dtype=np.uint8)
    separators = np.flatnonzero(data == 0)
    if len(separators) != length - 1:
        raise StoreInternalError("a packed lookup result does not match its row count")
    offsets = np.zeros(length + 1, dtype=np.int32)
    offsets[1:-1] = separators - np.arange(length - 1, dtype=separators.dtype)
    offsets[-1] = len(data) - (length - 1)
    values = data[data != 0] if length > 1 else data
    null_count = int(nulls.sum()) if nulls is not None else 0
    bitmap = pa.array(~nulls).buffers()[1] if nulls is not None and null_count else None
    return pa.StringArray.from_buffers(
        length, pa.py_buffer(offsets), pa.py_buffer(values), bitmap, null_count
    )


def packed_to_table(row: Sequence[Any] | None) -> pa.Table:
    """The row of :func:`packed_select_sql` as a JOURNEY_SCHEMA table (rows unordered)."""
    if row is None or not row[0]:
        return JOURNEY_SCHEMA.empty_table()
    length = int(row[0])
    fixed = np.frombuffer(row[1], dtype=_FIXED_DTYPE)
    if len(fixed) != length:
        raise StoreInternalError("a packed lookup result does not match its row count")
    columns: dict[str, pa.Array | pa.ChunkedArray] = {}
    texts = iter(row[2:])
    for name in FLAT_COLUMNS:
        if name in _TEXT_COLUMNS:
            nulls = fixed[f"{name}_null"] if name in _NULLABLE_TEXT else None
            columns[name] = _split_strings(length, next(texts), nulls)
        elif _FLAT_TYPES[name] == pa.int32():
            columns[name] = pa.array(fixed[name].astype(np.int32))
        else:
            micros = fixed[name].astype(np.int64) + _PG_EPOCH_US
            mask = fixed[f"{name}_null"] if name in _NULLABLE_TIMESTAMPS else None
            columns[name] = pa.array(micros, _FLAT_TYPES[name], mask=mask)
    return _assemble(columns, length)


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
