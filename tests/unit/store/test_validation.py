"""The shared validation rules (server upsert and loader)."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pytest

from journeys.schema import JOURNEY_SCHEMA
from store.validation import (
    BatchRejected,
    conform_columns,
    split_valid,
    validate_batch,
)
from tests.support.journey_rows import journey_row, journeys_table


def _table(n: int = 3) -> pa.Table:
    return journeys_table([journey_row(f"c-{i}", "j-1") for i in range(n)])


def _replace(table: pa.Table, name: str, values: list[object], type_: pa.DataType) -> pa.Table:
    index = table.schema.get_field_index(name)
    return table.set_column(index, pa.field(name, type_), pa.array(values, type_))


def test_a_valid_batch_passes_and_keeps_the_schema_types() -> None:
    table = validate_batch(_table())
    assert [f.type for f in table.schema] == [f.type for f in JOURNEY_SCHEMA]


def test_updated_at_may_be_left_out_because_the_server_stamps_it() -> None:
    assert validate_batch(_table().drop_columns(["updated_at"])).num_rows == 3


def test_compatible_types_are_converted() -> None:
    table = _table()
    table = _replace(table, "step", [1, 2, 3], pa.int64())
    table = _replace(table, "campaign", ["a", "b", "c"], pa.large_string())
    assert validate_batch(table)["step"].type == pa.int32()


REJECTIONS: list[tuple[Callable[[pa.Table], pa.Table], str]] = [
    (lambda t: t.drop_columns(["channel"]), "column 'channel': missing column"),
    (lambda t: t.append_column("extra", pa.array([1, 2, 3])), "column 'extra': unknown column"),
    (lambda t: _replace(t, "priority", ["1", "2", "3"], pa.string()), "column 'priority': type"),
    (lambda t: _replace(t, "step", [1, 2**40, 3], pa.int64()), "column 'step', row 1"),
    (lambda t: _replace(t, "customer_id", ["a", None, "c"], pa.string()),
     "column 'customer_id', row 1: is null"),
    (lambda t: _replace(t, "journey_id", ["ok", "ok", "-leading-dash"], pa.string()),
     "column 'journey_id', row 2"),
    (lambda t: _replace(t, "status", ["open", "open", "paused"], pa.string()),
     "column 'status', row 2"),
    (lambda t: _replace(t, "channel", ["fax", "sms", "sms"], pa.string()),
     "column 'channel', row 0"),
    (lambda t: _replace(t, "step", [0, -1, 0], pa.int32()), "column 'step', row 1: -1 is negative"),
    (lambda t: _replace(t, "status", ["open", "closed", "open"], pa.string()),
     "column 'closed_at', row 1"),
    (lambda t: _replace(t, "attributes", ["{}", "{", "{}"], pa.string()),
     "column 'attributes', row 1: not valid JSON"),
    (lambda t: _replace(t, "attributes", ["{}", "{}", '"text"'], pa.string()),
     "column 'attributes', row 2: JSON string is not an object"),
    (lambda t: _replace(t, "valid_from", [1, 2, 3], pa.timestamp("us")),
     "column 'valid_from': type"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "message"), REJECTIONS)
def test_a_bad_batch_is_rejected_naming_column_and_row(
    change: Callable[[pa.Table], pa.Table], message: str
) -> None:
    with pytest.raises(BatchRejected) as caught:
        validate_batch(change(_table()))
    assert str(caught.value).startswith(message)


def test_content_without_title_is_rejected() -> None:
    table = journeys_table([journey_row("c", "j", content={"title": None, "body": "b"})])
    with pytest.raises(BatchRejected, match=r"column 'content.title', row 0"):
        validate_batch(table)


def test_split_valid_keeps_good_rows_and_reports_each_bad_row_once() -> None:
    table = _replace(_table(5), "status", ["open", "x", "open", "y", "open"], pa.string())
    table = _replace(table, "channel", ["sms", "fax", "sms", "sms", "fax"], pa.string())
    good, rejections = split_valid(conform_columns(table))
    assert good["customer_id"].to_pylist() == ["c-0", "c-2"]
    assert [(r.row, r.column) for r in rejections] == [(1, "status"), (3, "status"), (4, "channel")]


@pytest.mark.parametrize(
    "attributes",
    ['{"score": NaN}', '{"score": Infinity}', '{"score": -Infinity}', '{"score": 1e999}',
     '{"tags": ["a",]}', '{"a": 1,}', '{"a": 1} // comment', "{'a': 1}"],
)  # fmt: skip
def test_nan_in_attributes_is_rejected_at_upsert(attributes: str) -> None:
    """Python's json.dumps writes NaN by default; DuckDB's json_valid accepts it, the gateway's
    strict parser does not, so such a row would break every lookup of its customer."""
    table = _replace(_table(), "attributes", ["{}", attributes, "{}"], pa.string())
    with pytest.raises(BatchRejected, match=r"column 'attributes', row 1: not valid JSON"):
        validate_batch(table)


def test_attributes_over_the_size_cap_are_rejected_per_row() -> None:
    big = '{"blob": "' + "x" * 200 + '"}'
    table = _replace(_table(), "attributes", ["{}", big, "{}"], pa.string())
    good, rejections = split_valid(conform_columns(table), max_attributes_bytes=100)
    assert good.num_rows == 2
    assert [(r.row, r.reason) for r in rejections] == [(1, "is over 100 bytes")]
    with pytest.raises(BatchRejected, match="is over 100 bytes"):
        validate_batch(table, max_attributes_bytes=100)
