"""A lake from before ``journeys_current`` (nightly table ``journeys_open``) keeps working.

Its Iceberg table ``journeys_open`` (the open journeys of each night, files under
``journeys_open/data/``) is renamed to ``journeys_current`` by ``journeys offload migrate`` (or
the first job run), history kept: the analysts' views answer as before, now and as of a time
before the rename. Until then the analysts' commands read the old table.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from cli.app import app
from offload import (
    CLOSED_TABLE,
    CURRENT_TABLE,
    OPEN_TABLE,
    LakeTables,
    OffloadSettings,
    migrate_parquet_lake,
    query_as_of,
)
from offload.field_ids import as_file_table
from offload.iceberg_tables import RUN_ID
from tests.support.offload_lake import by_key, commit_rows, demo_rows, offload_settings

runner = CliRunner()


@pytest.fixture
def settings(tmp_path: Path) -> OffloadSettings:
    return offload_settings(tmp_path)


def _old_lake(settings: OffloadSettings, rows: pa.Table) -> datetime:
    """A lake as the offload wrote it before: ``journeys_open`` with the open ``rows``, in
    ``journeys_open/data/<run>/``; the closed ones in ``journeys_closed``. Returns a time just
    after the open table's commit."""
    from journeys.schema import JOURNEY_SCHEMA

    commit_rows(settings, CLOSED_TABLE, rows.filter(pc.equal(rows["status"], "closed")))
    tables = LakeTables(settings)
    lake = tables.lake
    tables.catalog.drop_table(tables.identifier(CURRENT_TABLE))
    old = tables.catalog.create_table(
        f"{tables.namespace}.{OPEN_TABLE}",
        schema=JOURNEY_SCHEMA,
        location=lake.iceberg_uri(lake.path(OPEN_TABLE)),
    )
    path = lake.path(OPEN_TABLE, "data", f"2026-11-20-{uuid.uuid4().hex[:8]}", "part-0.parquet")
    Path(path).parent.mkdir(parents=True)
    pq.write_table(as_file_table(rows.filter(pc.equal(rows["status"], "open"))), path)
    with old.transaction() as tx:
        tx.add_files([lake.iceberg_uri(path)], snapshot_properties={RUN_ID: "nightly-old"})
    time.sleep(0.02)
    after = datetime.now(UTC)
    time.sleep(0.02)
    return after


def _names(settings: OffloadSettings) -> set[str]:
    tables = LakeTables(settings, create=False)
    return {name for _, name in tables.catalog.list_tables(tables.namespace)}


def test_an_old_lake_is_read_as_before_until_it_is_migrated(settings: OffloadSettings) -> None:
    rows = demo_rows(40)
    _old_lake(settings, rows)

    answer = query_as_of(settings, "SELECT * FROM journeys_all", None)
    opened = query_as_of(settings, "SELECT * FROM journeys_open", None)

    assert by_key(answer.cast(rows.schema)) == by_key(rows)
    assert opened.num_rows == pc.sum(pc.equal(rows["status"], "open")).as_py()
    assert _names(settings) == {OPEN_TABLE, CLOSED_TABLE}  # reading renamed nothing


def test_migrate_renames_journeys_open_to_journeys_current_keeping_its_history(
    settings: OffloadSettings,
) -> None:
    rows = demo_rows(40)
    before_rename = _old_lake(settings, rows)

    result = runner.invoke(app, ["offload", "migrate"], env=_env(settings))
    again = migrate_parquet_lake(settings)

    assert result.exit_code == 0, result.output
    assert "journeys_open → journeys_current" in result.output
    assert not again.renamed_open_table
    assert _names(settings) == {CURRENT_TABLE, CLOSED_TABLE}
    table = LakeTables(settings).table(CURRENT_TABLE)
    assert table.location().endswith(f"/{OPEN_TABLE}")  # the files stay where they are
    assert len(table.snapshots()) == 1
    now = query_as_of(settings, "SELECT * FROM journeys_all", None)
    then = query_as_of(settings, "SELECT * FROM journeys_all", before_rename)
    assert by_key(now.cast(rows.schema)) == by_key(rows) == by_key(then.cast(rows.schema))
    opened = query_as_of(settings, "SELECT count(*) AS n FROM journeys_open", before_rename)
    assert opened["n"][0].as_py() == pc.sum(pc.equal(rows["status"], "open")).as_py()


def _env(settings: OffloadSettings) -> dict[str, str]:
    return {
        "JOURNEYS_OFFLOAD_LAKE_URI": settings.lake_uri,
        "JOURNEYS_OFFLOAD_CATALOG_PATH": str(settings.catalog_path),
        "JOURNEYS_OFFLOAD_STORE__URL": settings.store.url,
        "JOURNEYS_OFFLOAD_STORE__TOKEN": settings.store.token.get_secret_value(),
    }
