"""The loader on malformed input: every row loaded or rejected, never a raw Arrow error."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from store import LoaderError, load_files
from tests.integration.store.test_loader import _as_text, _rejects, _run_load
from tests.support.journey_rows import journey_row, journeys_table
from tests.support.store_fixtures import StoreServer, unique_prefix

pytestmark = pytest.mark.integration


def write_csv(path: Path, header: list[str], lines: list[list[str]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(lines)


def test_ragged_csv_rows_go_to_the_rejects_file(store_server: StoreServer, tmp_path: Path) -> None:
    prefix = unique_prefix()
    rows = [_as_text(journey_row(f"{prefix}-{i}", "j-1")) for i in range(6)]
    header = list(rows[0])
    lines = [list(row.values()) for row in rows]
    lines[1] = lines[1][:-3]  # too few fields
    lines[4] = [*lines[4], "surplus"]  # too many
    source = tmp_path / "ragged.csv"
    write_csv(source, header, lines)

    result = _run_load(store_server, str(source))

    assert "Traceback" not in result.stdout + result.stderr
    assert "ArrowInvalid" not in result.stdout + result.stderr
    assert "loaded 4 rows, rejected 2 rows" in result.stdout, result.stdout + result.stderr
    rejects = _rejects(source.with_name("ragged.csv.rejects.jsonl"))
    assert [(r["row"], r["column"]) for r in rejects] == [(2, "*"), (5, "*")]
    assert rejects[0]["record"]["line"].startswith(f"{prefix}-1,")
    with store_server.client("reader") as reader:
        loaded = reader.lookup([f"{prefix}-{i}" for i in range(6)])
    assert sorted(loaded["customer_id"].to_pylist()) == [f"{prefix}-{i}" for i in (0, 2, 3, 5)]


def test_csv_null_words_are_text_not_missing_values(
    store_server: StoreServer, tmp_path: Path
) -> None:
    prefix = unique_prefix()
    rows = [_as_text(journey_row(f"{prefix}-x", "NA")), _as_text(journey_row(f"{prefix}-y", "j"))]
    rows[1]["journey_name"] = "null"
    rows[1]["campaign"] = "N/A"
    source = tmp_path / "words.csv"
    write_csv(source, list(rows[0]), [list(row.values()) for row in rows])

    with store_server.client("writer") as writer:
        summary = load_files([source], writer)
    with store_server.client("reader") as reader:
        loaded = reader.lookup([f"{prefix}-x", f"{prefix}-y"]).to_pylist()
    assert (summary.loaded, summary.rejected) == (2, 0)
    assert [row["journey_id"] for row in loaded] == ["NA", "j"]
    assert (loaded[1]["journey_name"], loaded[1]["campaign"]) == ("null", "N/A")


def test_parquet_nanoseconds_are_kept_when_exact_and_rejected_per_row_otherwise(
    store_server: StoreServer, tmp_path: Path
) -> None:
    prefix = unique_prefix()
    table = journeys_table([journey_row(f"{prefix}-{i}", "j-1") for i in range(3)])
    index = table.schema.get_field_index("valid_from")
    nanos = pc_cast_ns(table.column("valid_from"))
    values = nanos.to_pylist()
    exact_ns = 1_750_000_000_123_456_000
    values[0], values[1] = exact_ns, exact_ns + 789  # row 2 has digits below a microsecond
    column = pa.array(values, pa.int64()).cast(pa.timestamp("ns", "UTC"))
    table = table.set_column(index, pa.field("valid_from", column.type), column)
    source = tmp_path / "nanos.parquet"
    pq.write_table(table, source)

    with store_server.client("writer") as writer:
        summary = load_files([source], writer)
    with store_server.client("reader") as reader:
        loaded = reader.lookup([f"{prefix}-{i}" for i in range(3)])
    assert (summary.loaded, summary.rejected) == (2, 1)
    rejects = _rejects(source.with_name("nanos.parquet.rejects.jsonl"))
    assert [(r["row"], r["column"]) for r in rejects] == [(2, "valid_from")]
    assert "sub-microsecond" in rejects[0]["reason"]
    assert sorted(loaded["customer_id"].to_pylist()) == [f"{prefix}-0", f"{prefix}-2"]
    micros = loaded.column("valid_from").cast(pa.int64()).to_pylist()
    assert exact_ns // 1000 in micros


def pc_cast_ns(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return column.cast(pa.timestamp("ns", "UTC")).cast(pa.int64())


def test_non_standard_json_attributes_in_a_file_go_to_the_rejects_file(
    store_server: StoreServer, tmp_path: Path
) -> None:
    prefix = unique_prefix()
    rows = [_as_text(journey_row(f"{prefix}-{i}", "j-1")) for i in range(3)]
    rows[1]["attributes"] = '{"score": NaN}'
    source = tmp_path / "nan.csv"
    write_csv(source, list(rows[0]), [list(row.values()) for row in rows])

    with store_server.client("writer") as writer:
        summary = load_files([source], writer)
    rejects = _rejects(source.with_name("nan.csv.rejects.jsonl"))
    assert (summary.loaded, summary.rejected) == (2, 1)
    assert [(r["row"], r["column"]) for r in rejects] == [(2, "attributes")]


def test_an_unreadable_csv_stops_with_a_clear_error_saying_what_was_loaded(
    store_server: StoreServer, tmp_path: Path
) -> None:
    prefix = unique_prefix()
    rows = [_as_text(journey_row(f"{prefix}-{i}", "j-1")) for i in range(2)]
    source = tmp_path / "binary.csv"
    write_csv(source, list(rows[0]), [list(row.values()) for row in rows])
    with source.open("ab") as handle:
        handle.write(b",".join([b"\xff\xfe"] * len(rows[0])) + b"\n")

    with store_server.client("writer") as writer, pytest.raises(LoaderError) as caught:
        load_files([source], writer, batch_rows=1)
    message = str(caught.value)
    assert "cannot read further" in message
    assert "rows were loaded" in message
