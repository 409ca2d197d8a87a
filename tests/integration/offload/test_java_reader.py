"""Apache Iceberg's own Java library reads both tables, now and in the past, as DuckDB does.

The lake is built by the real jobs from a private store server. The Java reader
(``tests/java/iceberg-reader/IcebergJavaReader.java``, jars from ``make iceberg-java``) opens
our SQLite catalog with Iceberg's ``JdbcCatalog`` and reads with ``IcebergGenerics``, with no
name mapping: the tables have none, so every column is found by the field id in the data files.
Its rows and keys must equal DuckDB's answer over the analysts' catalog (``journeys sql``'s
code), for the current snapshots and for a time between two runs (``--as-of``).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from offload import (
    CLOSED_TABLE,
    CURRENT_TABLE,
    LakeTables,
    OffloadSettings,
    catalog_path,
    migrate_parquet_lake,
    query_as_of,
    run_housekeeping,
    run_nightly,
    run_query,
)
from offload.iceberg_tables import TABLES
from tests.support.iceberg_java import read_with_java, run_java_reader
from tests.support.offload_lake import (
    commit_without_field_ids,
    demo_rows,
    offload_settings,
    open_table,
)
from tests.support.offload_store import PrivateStore

pytestmark = pytest.mark.integration

SATURDAY = date(2026, 11, 21)
MONDAY = date(2026, 11, 23)
NEXT_SATURDAY = date(2026, 11, 28)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAME_MAPPING = "schema.name-mapping.default"

Row = dict[str, Any]
Key = tuple[str, str]


def _plain(value: Any) -> Any:
    """A value as the Java reader prints it: timestamps in epoch microseconds, structs as dicts."""
    if isinstance(value, datetime):
        return (value - _EPOCH) // timedelta(microseconds=1)
    if isinstance(value, dict):
        return {name: _plain(item) for name, item in value.items()}
    return value


def _keyed(rows: list[Row]) -> dict[Key, Row]:
    """Rows by primary key (attributes compared as JSON values); fails on a duplicate key."""
    keyed: dict[Key, Row] = {}
    for row in rows:
        key = (row["customer_id"], row["journey_id"])
        assert key not in keyed, f"duplicate key {key}"
        keyed[key] = {**row, "attributes": json.loads(row["attributes"])}
    return keyed


def _duckdb(table: pa.Table) -> dict[Key, Row]:
    rows = table.to_pylist()
    return _keyed([{name: _plain(value) for name, value in row.items()} for row in rows])


def _assert_same(read: str, java_rows: list[Row], duckdb_rows: dict[Key, Row]) -> None:
    java = _keyed(java_rows)
    assert set(java) == set(duckdb_rows), f"{read}: Java and DuckDB see other keys"
    for key, row in java.items():
        assert row == duckdb_rows[key], f"{read}: {key} differs"


def test_java_reads_both_tables_now_and_as_of_a_past_time_as_duckdb_does(
    store: PrivateStore, settings: OffloadSettings
) -> None:
    store.upsert(demo_rows(60))
    run_housekeeping(settings, SATURDAY)  # the closed rows move to journeys_closed
    run_nightly(settings, SATURDAY)  # the store (open ones now) is copied to journeys_current
    tables = LakeTables(settings)
    then_current = tables.table(CURRENT_TABLE).current_snapshot()
    then_closed = tables.table(CLOSED_TABLE).current_snapshot()
    assert then_current is not None
    assert then_closed is not None
    time.sleep(0.05)
    between = datetime.now(UTC)
    time.sleep(0.05)
    store.upsert(demo_rows(40, start=1_000))  # more journeys, open and closed
    run_nightly(settings, MONDAY)  # journeys_current: open and closed-not-yet-moved ones
    time.sleep(0.05)
    monday = datetime.now(UTC)
    time.sleep(0.05)
    in_store_monday = store.rows().num_rows
    run_housekeeping(settings, NEXT_SATURDAY)
    for name in TABLES:
        assert _NAME_MAPPING not in tables.table(name).properties, name

    millis, monday_millis = int(between.timestamp() * 1000), int(monday.timestamp() * 1000)
    reads = {
        "journeys_current": run_query(catalog_path(settings), "SELECT * FROM journeys_current"),
        "journeys_closed": run_query(catalog_path(settings), "SELECT * FROM journeys_closed"),
        f"journeys_current@snapshot={then_current.snapshot_id}": query_as_of(
            settings, "SELECT * FROM journeys_current", between
        ),
        f"journeys_current@as-of={millis}": query_as_of(
            settings, "SELECT * FROM journeys_current", between
        ),
        f"journeys_closed@as-of={millis}": query_as_of(
            settings, "SELECT * FROM journeys_closed", between
        ),
        f"journeys_current@as-of={monday_millis}": query_as_of(
            settings, "SELECT * FROM journeys_current", monday
        ),
        f"journeys_closed@as-of={monday_millis}": query_as_of(
            settings, "SELECT * FROM journeys_closed", monday
        ),
    }
    java = read_with_java(settings, *reads)

    for read, answer in reads.items():
        assert answer.num_rows > 0, read
        _assert_same(read, java[read].rows, _duckdb(answer))
    assert java[f"journeys_current@as-of={millis}"].snapshot == then_current.snapshot_id
    assert java[f"journeys_closed@as-of={millis}"].snapshot == then_closed.snapshot_id
    for name in TABLES:
        current = tables.table(name).current_snapshot()
        assert current is not None
        assert java[name].snapshot == current.snapshot_id
    # The past reads are really the past: both tables changed since.
    assert java["journeys_closed"].count > java[f"journeys_closed@as-of={millis}"].count
    # The raw tables are disjoint for Java too, now and on Monday, and on Monday (after the
    # nightly run, before housekeeping) their union is the whole store, closed journeys
    # housekeeping had not moved yet included.
    for when in ("", f"@as-of={monday_millis}"):
        current_keys = set(_keyed(java[f"journeys_current{when}"].rows))
        closed_keys = set(_keyed(java[f"journeys_closed{when}"].rows))
        assert not current_keys & closed_keys, when
    monday_rows = java[f"journeys_current@as-of={monday_millis}"].rows
    assert any(row["status"] == "closed" for row in monday_rows)
    assert len(monday_rows) == in_store_monday
    assert all(row["status"] == "open" for row in java["journeys_current"].rows)


def test_java_reads_a_lake_of_files_without_field_ids_once_offload_migrate_rewrote_them(
    tmp_path: Path,
) -> None:
    settings = offload_settings(tmp_path)  # no store: the lake is made by hand, as before
    tables = LakeTables(settings)
    lake = tables.lake
    rows = demo_rows(40)
    opened = rows.filter(pc.equal(rows["status"], "open"))
    old = lake.path(CURRENT_TABLE, "data", "2026-11-20-old", "part-0.parquet")
    Path(old).parent.mkdir(parents=True)
    pq.write_table(opened, old)  # no field ids, as the offload wrote them before
    commit_without_field_ids(tables, CURRENT_TABLE, [old])

    before = run_java_reader(settings, CURRENT_TABLE)
    assert before.returncode != 0
    assert "Missing required field" in before.stderr

    report = migrate_parquet_lake(settings)
    assert report.rewritten_files[CURRENT_TABLE] == 1
    after = read_with_java(settings, CURRENT_TABLE)
    _assert_same(CURRENT_TABLE, after[CURRENT_TABLE].rows, _duckdb(open_table(settings)))
    assert after[CURRENT_TABLE].count == opened.num_rows
