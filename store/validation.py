"""The rules a batch of journeys must meet before it is stored: one module for server and loader.

The server rejects a whole upsert batch at the first problem (:func:`validate_batch`); the
loader keeps the good rows and reports each bad one (:func:`split_valid`). Both use the same
checks, vectorised with ``pyarrow.compute`` (only the JSON check of ``attributes`` parses per
value, with orjson):

* every column of :data:`~journeys.schema.JOURNEY_SCHEMA` is present (``updated_at`` may be
  left out: the server stamps it), no unknown column, each of a compatible type;
* no null in a non-nullable column (nor in ``content.title``);
* ids match :data:`~journeys.schema.ID_PATTERN`; ``status`` and ``channel`` are known values;
  ``step`` is not negative;
* ``closed_at`` is set exactly when ``status`` is ``closed``;
* ``attributes`` is a JSON object in strict RFC 8259 syntax (parsed by orjson, the parser the
  gateway reads replies with: ``NaN``, ``Infinity``, numbers that overflow a double such as
  ``1e999``, trailing commas, comments and lone surrogates are refused; DuckDB's
  ``json_valid`` accepts several of them and such a row broke every lookup of its customer)
  and at most ``max_attributes_bytes`` of UTF-8 (default :data:`MAX_ATTRIBUTES_BYTES`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from journeys.schema import (
    CHANNELS,
    CONTENT_TYPE,
    ID_PATTERN,
    JOURNEY_SCHEMA,
    PRIMARY_KEY,
    STATUSES,
)

#: Why a timestamp with nanoseconds that are not whole microseconds is refused.
SUB_MICROSECOND: Final = (
    "timestamp has sub-microsecond digits; the store keeps microseconds and will not truncate"
)
#: Columns a client may leave out of an upsert batch; the server fills them in.
SERVER_STAMPED: Final = frozenset({"updated_at"})
#: JOURNEY_SCHEMA's columns and types, every one nullable, no metadata: a batch before its
#: rows are checked (nulls in non-nullable columns are reported per row, not refused by Arrow).
CONFORMED_SCHEMA: Final = pa.schema([pa.field(f.name, f.type) for f in JOURNEY_SCHEMA])


@dataclass(frozen=True)
class Rejection:
    """Why a row (or, with ``row=None``, the whole batch) cannot be stored."""

    row: int | None
    column: str
    reason: str

    def message(self) -> str:
        """One line naming the column and the row."""
        where = f"column '{self.column}'" + ("" if self.row is None else f", row {self.row}")
        return f"{where}: {self.reason}"


class BatchRejected(ValueError):
    """A batch failed validation; ``rejection`` says where and why."""

    def __init__(self, rejection: Rejection) -> None:
        super().__init__(rejection.message())
        self.rejection = rejection


def _is_stringlike(data_type: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
        or pa.types.is_string_view(data_type)
    )


def _compatible(source: pa.DataType, target: pa.DataType) -> bool:
    """Whether a column of ``source`` type converts to ``target`` without losing meaning."""
    if source == target:
        return True
    if pa.types.is_string(target):
        return _is_stringlike(source)
    if pa.types.is_int32(target):
        return bool(pa.types.is_integer(source))
    if pa.types.is_timestamp(target):
        # A naive timestamp would be guessed to be UTC: refuse it rather than guess.
        return bool(pa.types.is_timestamp(source) and source.tz is not None)
    if target == CONTENT_TYPE:
        if not pa.types.is_struct(source):
            return False
        names = {source.field(i).name for i in range(source.num_fields)}
        known = {field.name for field in CONTENT_TYPE}
        children = (source.field(i).type for i in range(source.num_fields))
        return "title" in names and names <= known and all(_is_stringlike(t) for t in children)
    return False


def _cast_content(column: pa.ChunkedArray) -> pa.ChunkedArray:
    chunks = []
    for chunk in column.chunks:
        struct = chunk if isinstance(chunk, pa.StructArray) else pa.array(chunk)
        names = [struct.type.field(i).name for i in range(struct.type.num_fields)]
        children = [
            pc.cast(struct.field(field.name), pa.string())
            if field.name in names
            else pa.nulls(len(struct), pa.string())
            for field in CONTENT_TYPE
        ]
        mask = struct.is_null() if struct.null_count else None
        chunks.append(pa.StructArray.from_arrays(children, fields=list(CONTENT_TYPE), mask=mask))
    return pa.chunked_array(chunks, CONTENT_TYPE)


def _first_row(mask: pa.ChunkedArray | pa.Array) -> int:
    return int(pc.index(mask, True).as_py())


def conform_columns(data: pa.Table | pa.RecordBatch) -> pa.Table:
    """``data`` with the columns of JOURNEY_SCHEMA, in order, cast to their types.

    A missing server-stamped column is filled with nulls (the server stamps it). Raises
    :class:`BatchRejected` for a missing or unknown column, or an incompatible type.
    """
    table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
    present = set(table.column_names)
    for name in table.column_names:
        if name not in JOURNEY_SCHEMA.names:
            raise BatchRejected(Rejection(None, name, "unknown column"))
    if len(present) != table.num_columns:
        raise BatchRejected(Rejection(None, "*", "duplicate column names"))
    columns: list[pa.ChunkedArray] = []
    for field in JOURNEY_SCHEMA:
        if field.name not in present:
            if field.name in SERVER_STAMPED:
                columns.append(pa.chunked_array([pa.nulls(table.num_rows, field.type)]))
                continue
            raise BatchRejected(Rejection(None, field.name, "missing column"))
        column = table.column(field.name)
        if not _compatible(column.type, field.type):
            raise BatchRejected(
                Rejection(None, field.name, f"type {column.type} is not {field.type}")
            )
        if field.type == CONTENT_TYPE:
            column = _cast_content(column)
        elif column.type != field.type:
            try:
                column = pc.cast(column, field.type, safe=True)
            except pa.ArrowInvalid:
                if pa.types.is_timestamp(field.type):
                    # Only a finer unit can fail here (ns → us with digits lost): name the row.
                    nanos = pc.cast(pc.cast(column, pa.timestamp("ns", "UTC")), pa.int64())
                    lossy = pc.not_equal(pc.remainder(nanos, 1000), 0)
                    row = _first_row(pc.fill_null(lossy, False))
                    raise BatchRejected(Rejection(row, field.name, SUB_MICROSECOND)) from None
                # Otherwise only integers can fail (out of int32 range): name the row.
                low, high = -(2**31), 2**31 - 1
                outside = pc.or_(pc.less(column, low), pc.greater(column, high))
                row = _first_row(pc.fill_null(outside, False))
                raise BatchRejected(
                    Rejection(row, field.name, "value out of range for int32")
                ) from None
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=CONFORMED_SCHEMA)


#: Default cap on one ``attributes`` value (bytes of UTF-8); a reply carries up to
#: ``JOURNEYS_RESPONDER_MAX_JOURNEYS_PER_REPLY`` of them under a 1 MB reply cap.
MAX_ATTRIBUTES_BYTES: Final = 16_384
_JSON_TYPES: Final[dict[type, str]] = {
    list: "array", str: "string", int: "number", float: "number", bool: "boolean",
    type(None): "null",
}  # fmt: skip


def _json_object_failures(column: pa.ChunkedArray, max_bytes: int) -> list[tuple[int, str]]:
    """(row, reason) of every ``attributes`` value that is too big or not a strict JSON object."""
    failures: list[tuple[int, str]] = []
    sizes = pc.binary_length(column)
    too_big = pc.fill_null(pc.greater(sizes, max_bytes), False)
    big_rows = set(pc.indices_nonzero(too_big).to_pylist()) if pc.any(too_big).as_py() else set()
    for row, text in enumerate(column.to_pylist()):
        if text is None:
            continue
        if row in big_rows:
            failures.append((row, f"is over {max_bytes} bytes"))
            continue
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            failures.append((row, f"not valid JSON (strict RFC 8259): {str(exc)[:120]}"))
            continue
        if not isinstance(value, dict):
            failures.append((row, f"JSON {_JSON_TYPES.get(type(value), 'value')} is not an object"))
    return failures


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _rule_masks(table: pa.Table) -> Iterator[tuple[pa.ChunkedArray, str, str, bool]]:
    """(bad-row mask, column, reason, show the value) per rule, in order, computed lazily."""
    for field in JOURNEY_SCHEMA:
        if not field.nullable and field.name not in SERVER_STAMPED:
            yield pc.is_null(table.column(field.name)), field.name, "is null", False
    titles = pc.struct_field(table.column("content"), "title")
    yield pc.is_null(titles), "content.title", "is null", False
    for name in ("customer_id", "journey_id"):
        bad = pc.invert(pc.match_substring_regex(table.column(name), ID_PATTERN))
        yield bad, name, f"does not match {ID_PATTERN}", True
    for name, allowed in (("status", STATUSES), ("channel", CHANNELS)):
        bad = pc.invert(pc.is_in(table.column(name), pa.array(allowed)))
        yield bad, name, f"is not one of {', '.join(allowed)}", True
    yield pc.less(table.column("step"), 0), "step", "is negative", True
    closed = pc.equal(table.column("status"), "closed")
    inconsistent = pc.not_equal(closed, pc.is_valid(table.column("closed_at")))
    yield inconsistent, "closed_at", "must be set exactly when status is 'closed'", False


def find_rejections(
    table: pa.Table, *, first_only: bool = False, max_attributes_bytes: int = MAX_ATTRIBUTES_BYTES
) -> list[Rejection]:
    """Every bad row of a conformed table (its first problem each), in row order.

    ``first_only`` stops after the first rule that finds a bad row (the server's case).
    """
    rejected: dict[int, Rejection] = {}
    for mask, column, reason, show in _rule_masks(table):
        mask = pc.fill_null(mask, False)
        if not pc.any(mask).as_py():
            continue
        rows = pc.indices_nonzero(mask).to_pylist()
        values = table.column(column).take(pa.array(rows)).to_pylist() if show else None
        for i, row in enumerate(rows):
            if row not in rejected:
                detail = f"{_show(values[i])} {reason}" if values is not None else reason
                rejected[row] = Rejection(row, column, detail)
        if first_only:
            return _ordered(rejected)
    attributes = table.column("attributes")
    for row, reason in _json_object_failures(attributes, max_attributes_bytes):
        if row not in rejected:
            rejected[row] = Rejection(row, "attributes", reason)
            if first_only:
                break
    return _ordered(rejected)


def _ordered(rejected: dict[int, Rejection]) -> list[Rejection]:
    return [rejected[row] for row in sorted(rejected)]


def validate_batch(
    data: pa.Table | pa.RecordBatch, *, max_attributes_bytes: int = MAX_ATTRIBUTES_BYTES
) -> pa.Table:
    """The conformed batch, or :class:`BatchRejected` naming the column and row of a problem."""
    table = conform_columns(data)
    rejections = find_rejections(table, first_only=True, max_attributes_bytes=max_attributes_bytes)
    if rejections:
        raise BatchRejected(rejections[0])
    return table


def split_valid(
    table: pa.Table, *, max_attributes_bytes: int = MAX_ATTRIBUTES_BYTES
) -> tuple[pa.Table, list[Rejection]]:
    """The good rows of a conformed table and one :class:`Rejection` per bad row."""
    rejections = find_rejections(table, max_attributes_bytes=max_attributes_bytes)
    if not rejections:
        return table, []
    bad = pa.array([r.row for r in rejections], pa.int64())
    mask = pc.invert(pc.is_in(pa.array(range(table.num_rows), pa.int64()), bad))
    return table.filter(mask), rejections


def last_per_key(table: pa.Table) -> pa.Table:
    """Keep the last row of each primary key (ON CONFLICT cannot update a row twice)."""
    keys = table.select(list(PRIMARY_KEY))
    if keys.group_by(list(PRIMARY_KEY)).aggregate([]).num_rows == table.num_rows:
        return table
    numbered = keys.append_column("_row", pa.array(range(table.num_rows), pa.int64()))
    last = numbered.group_by(list(PRIMARY_KEY)).aggregate([("_row", "max")])
    rows = pc.sort_indices(last.column("_row_max"))
    return table.take(last.column("_row_max").take(rows))
