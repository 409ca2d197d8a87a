"""Builders and readers for the offload tests: settings, demo rows, lake contents."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from journeys.schema import JOURNEY_SCHEMA, PRIMARY_KEY
from offload import CLOSED_TABLE, CURRENT_TABLE, Lake, LakeTables, OffloadSettings
from offload.closed_files import write_partitioned
from offload.field_ids import as_file_table
from offload.parquet_io import ParquetOptions
from store.demo_data import generate_journeys

#: A fixed anchor so demo rows are identical across runs and days.
ANCHOR = datetime(2026, 11, 16, tzinfo=UTC)


def offload_settings(
    root: Path, *, url: str = "grpc://127.0.0.1:1", token: str = "offloader-token-0123456789"
) -> OffloadSettings:
    """Settings with the lake, catalog and metrics under ``root``."""
    return OffloadSettings(
        lake_uri=str(root / "lake"),
        catalog_path=root / "analytics.duckdb",
        metrics_dir=root / "metrics",
        store={"url": url, "token": token},
        row_group_size=10_000,
    )


def offload_env_of(settings: OffloadSettings) -> dict[str, str]:
    """``settings`` as the JOURNEYS_OFFLOAD_* variables a job subprocess reads."""
    return {
        "JOURNEYS_OFFLOAD_LAKE_URI": settings.lake_uri,
        "JOURNEYS_OFFLOAD_CATALOG_PATH": str(settings.catalog_path),
        "JOURNEYS_OFFLOAD_METRICS_DIR": str(settings.metrics_dir),
        "JOURNEYS_OFFLOAD_ROW_GROUP_SIZE": str(settings.row_group_size),
        "JOURNEYS_OFFLOAD_STORE__URL": settings.store.url,
        "JOURNEYS_OFFLOAD_STORE__TOKEN": settings.store.token.get_secret_value(),
    }


def demo_rows(customers: int, *, start: int = 1, seed: int = 7) -> pa.Table:
    """Demo journeys of ``customers`` customers (≈5 each), as one table of JOURNEY_SCHEMA."""
    tables = list(generate_journeys(customers, seed=seed, start=start, anchor=ANCHOR))
    return pa.concat_tables(tables) if tables else JOURNEY_SCHEMA.empty_table()


def commit_rows(settings: OffloadSettings, name: str, rows: pa.Table) -> None:
    """One commit that makes ``rows`` the whole content of table ``name`` (no store involved):
    a small lake for tests of the analysts' commands. Closed rows are split by month."""
    tables = LakeTables(settings)
    lake = tables.lake
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    options = ParquetOptions.from_settings(settings)
    if name == CLOSED_TABLE:
        added = write_partitioned(lake, prefix, rows.to_batches(), options).files
    else:
        added = [f"{CURRENT_TABLE}/data/{prefix}/part-0.parquet"]
        lake.fs.create_dir(lake.path(CURRENT_TABLE, "data", prefix), recursive=True)
        pq.write_table(as_file_table(rows), lake.path(added[0]), filesystem=lake.fs)
    tables.replace(
        name,
        drop=tables.data_files(name),
        add=[lake.path(path) for path in added],
        properties={"journeys.run-id": prefix},
    )


def read_files(lake: Lake, paths: list[str]) -> pa.Table:
    """The rows of the Parquet files ``paths`` (filesystem paths in ``lake``)."""
    if not paths:
        return JOURNEY_SCHEMA.empty_table()
    tables = [pq.read_table(path, filesystem=lake.fs) for path in paths]
    return pa.concat_tables(tables)


def current_table(settings: OffloadSettings, snapshot_id: int | None = None) -> pa.Table:
    """The current (or given) snapshot of the Iceberg table ``journeys_current``, by pyiceberg."""
    return _iceberg_rows(settings, CURRENT_TABLE, snapshot_id)


def open_table(settings: OffloadSettings, snapshot_id: int | None = None) -> pa.Table:
    """The open journeys of ``journeys_current`` (what the view ``journeys_open`` shows)."""
    rows = current_table(settings, snapshot_id)
    return rows.filter(pc.equal(rows["status"], "open"))


def closed_table(settings: OffloadSettings) -> pa.Table:
    """The current snapshot of the Iceberg table ``journeys_closed``, read by pyiceberg."""
    return _iceberg_rows(settings, CLOSED_TABLE, None)


def _iceberg_rows(settings: OffloadSettings, name: str, snapshot_id: int | None) -> pa.Table:
    table = LakeTables(settings).table(name)
    if snapshot_id is None and table.current_snapshot() is None:
        return JOURNEY_SCHEMA.empty_table()
    return table.scan(snapshot_id=snapshot_id).to_arrow().cast(JOURNEY_SCHEMA)


def by_key(table: pa.Table) -> dict[tuple[str, str], dict[str, Any]]:
    """Rows keyed by primary key, for comparisons that ignore order (fails on duplicates)."""
    rows = {}
    for row in table.to_pylist():
        key = (row[PRIMARY_KEY[0]], row[PRIMARY_KEY[1]])
        assert key not in rows, f"duplicate key {key}"
        rows[key] = row
    return rows


def reopen_and_change(closed: pa.Table) -> pa.Table:
    """Two changed versions of closed rows: the first re-opened, the second still closed but
    with another priority (what a campaigns system may do after a housekeeping snapshot)."""
    rows = closed.slice(0, 2).to_pylist()
    rows[0].update(status="open", closed_at=None)
    rows[1].update(priority=rows[1]["priority"] + 1000)
    return pa.Table.from_pylist(rows, schema=JOURNEY_SCHEMA)


def assert_invariant(
    store_rows: pa.Table, closed_rows: pa.Table, expected: dict[tuple[str, str], dict[str, object]]
) -> None:
    """Every journey is in exactly one of {store, journeys_closed}, with its latest values.

    ``expected`` maps each key to its latest row; ``updated_at`` is ignored (the store stamps
    it on every write).
    """
    in_store, in_closed = by_key(store_rows), by_key(closed_rows)
    assert not set(in_store) & set(in_closed), "journeys both in the store and journeys_closed"
    assert set(in_store) | set(in_closed) == set(expected), "journeys lost or invented"
    for key, row in {**in_store, **in_closed}.items():
        assert {**row, "updated_at": None} == {**expected[key], "updated_at": None}, key
    assert all(row["status"] == "closed" for row in in_closed.values())


def commit_without_field_ids(tables: LakeTables, name: str, paths: list[str]) -> None:
    """Commit ``paths`` as the offload did before its files carried Iceberg field ids: the
    table gets ``schema.name-mapping.default`` and readers map the files' columns by name."""
    from pyiceberg.io.pyarrow import parquet_files_to_data_files
    from pyiceberg.table import TableProperties

    table = tables.table(name)
    uris = iter([tables.lake.iceberg_uri(path) for path in paths])
    with table.transaction() as tx:
        mapping = tx.table_metadata.schema().name_mapping.model_dump_json()
        tx.set_properties({TableProperties.DEFAULT_NAME_MAPPING: mapping})
        update = tx.update_snapshot(snapshot_properties={"journeys.run-id": f"old-{name}"})
        with update.overwrite() as overwrite:
            for data_file in parquet_files_to_data_files(table.io, tx.table_metadata, uris):
                overwrite.append_data_file(data_file)
