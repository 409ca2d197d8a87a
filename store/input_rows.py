"""Input rows on their way to the store: a chunk of converted rows, and the row-wise
conversion of text records (CSV, JSON lines) to JOURNEY_SCHEMA, where a row that fails
conversion is rejected, never guessed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import orjson
import pyarrow as pa

from journeys.schema import CONTENT_TYPE, JOURNEY_SCHEMA
from store.client import to_micros
from store.validation import CONFORMED_SCHEMA, Rejection


@dataclass
class InputChunk:
    """Input rows converted to the schema, the raw records, and their 1-based row numbers.

    Row ``i`` of ``raw`` (and of ``table``, when it has rows) is input row ``first_row + i``,
    or ``numbers[i]`` when the rows are not consecutive (CSV rows between them were ragged).
    """

    table: pa.Table
    raw: list[dict[str, Any]]
    first_row: int
    rejections: list[Rejection]
    numbers: list[int] | None = None

    def number(self, row: int) -> int:
        """The 1-based input row number of ``row``."""
        return self.numbers[row] if self.numbers is not None else self.first_row + row


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


def convert_records(records: list[dict[str, Any] | None], first_row: int) -> InputChunk:
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
    return InputChunk(table, raw, first_row, rejections)
