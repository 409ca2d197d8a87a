"""What analysts do with the tables: query a past snapshot, and migrate the old Parquet layout."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from offload import Lake, OffloadSettings, run_nightly
from tests.support.offload_lake import (
    by_key,
    closed_table,
    demo_rows,
    offload_settings,
    open_table,
)
from tests.support.offload_store import PrivateStore
from tests.support.processes import journeys_command

pytestmark = pytest.mark.integration

DAY1 = date(2026, 11, 20)
DAY2 = date(2026, 11, 21)


def _journeys(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        journeys_command(*args),
        env={**os.environ, **env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _count(result: subprocess.CompletedProcess[str]) -> int:
    assert result.returncode == 0, result.stderr
    numbers = [line.strip("│ ") for line in result.stdout.splitlines() if "│" in line]
    return int(numbers[-1].replace(",", ""))


def test_sql_as_of_a_time_between_two_nightly_runs_returns_the_first_runs_rows(
    store: PrivateStore, settings: OffloadSettings, offload_env: dict[str, str]
) -> None:
    store.upsert(demo_rows(40))
    run_nightly(settings, DAY1)
    first = open_table(settings).num_rows
    yesterday = datetime.now(UTC)  # after the first commit, before the second
    store.upsert(demo_rows(30, start=1_000))
    run_nightly(settings, DAY2)
    second = open_table(settings).num_rows
    assert second > first

    query = "SELECT count(*) AS n FROM journeys_open"
    assert _count(_journeys(offload_env, "sql", query, "--as-of", yesterday.isoformat())) == first
    assert _count(_journeys(offload_env, "sql", query)) == second
    before_any = "2000-01-01T00:00:00"
    assert _count(_journeys(offload_env, "sql", query, "--as-of", before_any)) == 0


def _legacy_lake(lake: Lake, open_rows: pa.Table, closed_rows: pa.Table) -> None:
    """The pre-Iceberg layout: a pointer to a snapshot directory, and committed weekly parts."""
    snapshot = "journeys_open/snapshots/2026-11-20-abcd1234"
    lake.fs.create_dir(lake.path(snapshot), recursive=True)
    pq.write_table(open_rows, lake.path(snapshot, "part-0.parquet"))
    lake.write_json(
        lake.path("journeys_open/_current.json"),
        {
            "path": snapshot,
            "files": ["part-0.parquet"],
            "run_date": "2026-11-20",
            "snapshot_at": "2026-11-20T02:00:00+00:00",
        },
    )
    week = lake.path("journeys_closed/week=2026-W47")
    lake.fs.create_dir(week, recursive=True)
    pq.write_table(closed_rows, f"{week}/part-0.parquet")
    lake.write_json(f"{week}/_part-0.purged.json", {"purged": 1})
    pq.write_table(closed_rows, f"{week}/part-1.parquet")  # never committed: not imported


def test_offload_migrate_imports_the_old_parquet_layout_and_checks_the_counts(
    tmp_path: Path,
) -> None:
    settings = offload_settings(tmp_path)  # the migration never talks to the store
    lake = Lake(settings.lake_uri)
    offload_env = {
        "JOURNEYS_OFFLOAD_LAKE_URI": settings.lake_uri,
        "JOURNEYS_OFFLOAD_CATALOG_PATH": str(settings.catalog_path),
        "JOURNEYS_OFFLOAD_STORE__URL": settings.store.url,
        "JOURNEYS_OFFLOAD_STORE__TOKEN": settings.store.token.get_secret_value(),
    }
    rows = demo_rows(50)
    opened = rows.filter(pc.equal(rows["status"], "open"))
    closed = rows.filter(pc.equal(rows["status"], "closed"))
    _legacy_lake(lake, opened, closed)

    first = _journeys(offload_env, "offload", "migrate")
    again = _journeys(offload_env, "offload", "migrate")

    assert first.returncode == 0, first.stderr
    assert f"journeys_open: {opened.num_rows:,} rows in the old layout, " in first.stdout
    assert f"{opened.num_rows:,} in the table" in first.stdout
    assert f"{closed.num_rows:,} rows in the old layout, {closed.num_rows:,} in" in first.stdout
    assert by_key(open_table(settings)) == by_key(opened)
    assert by_key(closed_table(settings)) == by_key(closed)
    assert again.returncode == 0, again.stderr
    assert "(already migrated)" in again.stdout
    assert closed_table(settings).num_rows == closed.num_rows
    query = "SELECT count(*) AS n FROM journeys_all"
    assert _count(_journeys(offload_env, "sql", query)) == rows.num_rows
