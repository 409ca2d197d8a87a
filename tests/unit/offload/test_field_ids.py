"""Every data file the offload writes carries the Iceberg field ids of the table's schema.

The ids are read back from the written Parquet files with pyarrow (the ``PARQUET:field_id`` of
every field, nested ones too) and compared with the Iceberg table's own schema, as pyiceberg
loads it from the catalog (``file_ids`` and ``assert_table_ids`` are shared with the migration
tests).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from journeys.schema import JOURNEY_SCHEMA
from offload import CLOSED_TABLE, CURRENT_TABLE, LakeStateError, LakeTables, OffloadSettings
from offload.closed_files import files_without_keys, joined_keys, write_partitioned
from offload.field_ids import FIELD_ID_KEY, FILE_SCHEMA, iceberg_field_ids
from offload.parquet_io import ParquetOptions, write_batches
from tests.support.offload_lake import by_key, demo_rows, offload_settings

OPTIONS = ParquetOptions(row_group_size=1_000, compression="zstd", compression_level=1)


@pytest.fixture
def settings(tmp_path: Path) -> OffloadSettings:
    """A lake with the SQLite catalog under tmp_path (no store: nothing here scans one)."""
    return offload_settings(tmp_path).model_copy(update={"refresh_catalog": False})


@pytest.fixture
def tables(settings: OffloadSettings) -> LakeTables:
    """Both tables, created as the jobs create them."""
    return LakeTables(settings)


def file_ids(path: str) -> dict[str, int]:
    """Field path → the field id pyarrow reads from the Parquet file; -1 without one."""
    ids: dict[str, int] = {}

    def visit(fields: list[pa.Field], prefix: str) -> None:
        for field in fields:
            ids[prefix + field.name] = int((field.metadata or {}).get(FIELD_ID_KEY, b"-1"))
            if pa.types.is_struct(field.type):
                visit(list(field.type), f"{prefix}{field.name}.")

    visit(list(pq.read_schema(path)), "")
    return ids


def assert_table_ids(tables: LakeTables, name: str, paths: list[str]) -> None:
    expected = iceberg_field_ids(tables.table(name).schema())
    assert len(expected) == len(JOURNEY_SCHEMA) + JOURNEY_SCHEMA.field("content").type.num_fields
    assert paths
    for path in paths:
        assert file_ids(path) == expected, path


def table_rows(tables: LakeTables, name: str, snapshot_id: int | None = None) -> pa.Table:
    return tables.table(name).scan(snapshot_id=snapshot_id).to_arrow().cast(JOURNEY_SCHEMA)


def test_the_file_schema_is_the_journey_schema_with_the_ids_of_both_tables(
    tables: LakeTables,
) -> None:
    assert FILE_SCHEMA.equals(JOURNEY_SCHEMA)  # names, types, nullability
    assert FILE_SCHEMA.metadata == JOURNEY_SCHEMA.metadata
    for name in (CURRENT_TABLE, CLOSED_TABLE):
        ids = iceberg_field_ids(tables.table(name).schema())
        assert ids["customer_id"] == 1
        assert ids["content.title"] == 16
        assert FILE_SCHEMA.field("content").type.field("title").metadata == {FIELD_ID_KEY: b"16"}


def test_nightly_files_carry_every_field_id_and_need_no_name_mapping(
    tables: LakeTables,
) -> None:
    lake = tables.lake
    rows = demo_rows(200)
    directory = lake.path(CURRENT_TABLE, "data", "run-1")
    names = ["part-0.parquet", "part-1.parquet"]
    write_batches(lake, directory, names, rows.to_batches(max_chunksize=97), OPTIONS)
    paths = [lake.path(CURRENT_TABLE, "data", "run-1", name) for name in names]
    assert_table_ids(tables, CURRENT_TABLE, paths)
    tables.replace(CURRENT_TABLE, drop=[], add=paths, properties={})
    table = tables.table(CURRENT_TABLE)
    assert "schema.name-mapping.default" not in table.properties
    assert by_key(table_rows(tables, CURRENT_TABLE)) == by_key(rows)


def test_housekeeping_files_and_their_rewrites_carry_every_field_id(tables: LakeTables) -> None:
    lake = tables.lake
    rows = demo_rows(300)
    closed = rows.filter(pc.equal(rows.column("status"), "closed"))
    written = write_partitioned(lake, "run-1", closed.to_batches(max_chunksize=50), OPTIONS)
    paths = [lake.path(path) for path in written.files]
    assert_table_ids(tables, CLOSED_TABLE, paths)
    tables.replace(CLOSED_TABLE, drop=[], add=paths, properties={})
    gone = joined_keys(closed.slice(0, 3))
    drop, copies = files_without_keys(tables, gone, "run-1-replaced", OPTIONS)
    assert drop
    assert_table_ids(tables, CLOSED_TABLE, [lake.path(path) for path in copies])


def test_a_file_without_field_ids_is_refused_by_the_commit(tables: LakeTables) -> None:
    lake = tables.lake
    path = lake.path(CURRENT_TABLE, "data", "old", "part-0.parquet")
    Path(path).parent.mkdir(parents=True)
    pq.write_table(demo_rows(5), path)
    with pytest.raises(LakeStateError, match="does not carry the Iceberg field ids"):
        tables.replace(CURRENT_TABLE, drop=[], add=[path], properties={})
    assert tables.table(CURRENT_TABLE).current_snapshot() is None


def test_a_table_whose_schema_numbers_the_columns_otherwise_is_refused(
    settings: OffloadSettings,
) -> None:
    tables = LakeTables(settings)
    other = pa.schema(list(reversed(list(JOURNEY_SCHEMA))))
    tables.catalog.drop_table(tables.identifier(CURRENT_TABLE))
    tables.catalog.create_table(tables.identifier(CURRENT_TABLE), schema=other)
    with pytest.raises(LakeStateError, match="field ids"):
        LakeTables(settings)
