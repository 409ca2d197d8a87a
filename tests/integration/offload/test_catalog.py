"""The analysts' catalog and the CLI over a real store and lake."""

from __future__ import annotations

import os
import subprocess
from datetime import date

import duckdb
import pytest

from journeys.schema import create_table_sql
from offload import OffloadSettings, build_catalog, run_housekeeping, run_nightly
from tests.support.offload_lake import by_key, demo_rows
from tests.support.offload_store import PrivateStore
from tests.support.processes import journeys_command

pytestmark = pytest.mark.integration


def _store_columns() -> list[tuple[str, str]]:
    con = duckdb.connect()
    con.execute(create_table_sql("store_journeys"))
    described = con.execute("DESCRIBE store_journeys").fetchall()
    return [(row[0], row[1]) for row in described]


def test_journeys_all_returns_the_rows_the_store_held_before_housekeeping(
    store: PrivateStore, settings: OffloadSettings
) -> None:
    before = store.upsert(demo_rows(150))
    run_nightly(settings, date(2026, 11, 21))
    run_housekeeping(settings, date(2026, 11, 21))
    assert store.rows().num_rows < before.num_rows  # closed rows left the store

    con = duckdb.connect(str(settings.catalog_path), read_only=True)
    try:
        described = con.execute("DESCRIBE journeys_all").fetchall()
        catalog_rows = con.sql("SELECT * FROM journeys_all").to_arrow_table()
        counts = dict(
            con.execute("SELECT status, count(*) FROM journeys_all GROUP BY status").fetchall()
        )
    finally:
        con.close()
    assert [(row[0], row[1]) for row in described] == _store_columns()
    expected = by_key(before)
    assert by_key(catalog_rows.cast(before.schema)) == expected
    assert sum(counts.values()) == len(expected)


def test_catalog_of_an_empty_lake_has_empty_views_with_the_store_columns(
    settings: OffloadSettings,
) -> None:
    info = build_catalog(settings)
    con = duckdb.connect(str(info.path), read_only=True)
    try:
        for view in ("journeys_open", "journeys_closed", "journeys_all"):
            assert con.execute(f"SELECT count(*) FROM {view}").fetchone() == (0,)
            described = con.execute(f"DESCRIBE {view}").fetchall()
            assert [(row[0], row[1]) for row in described] == _store_columns()
    finally:
        con.close()


def test_cli_runs_the_jobs_and_queries_the_catalog(
    store: PrivateStore, offload_env: dict[str, str]
) -> None:
    store.upsert(demo_rows(40))
    env = {**os.environ, **offload_env, "COLUMNS": "160"}

    def journeys(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            journeys_command(*args), env=env, capture_output=True, text=True, timeout=120
        )

    nightly = journeys("offload", "nightly", "--date", "2026-11-21")
    assert nightly.returncode == 0, nightly.stderr
    assert "rows/s" in nightly.stdout
    assert "MB/s" in nightly.stdout
    housekeeping = journeys("offload", "housekeeping", "--date", "2026-11-21")
    assert housekeeping.returncode == 0, housekeeping.stderr
    assert journeys("catalog").returncode == 0
    query = journeys("sql", "SELECT status, count(*) AS n FROM journeys_all GROUP BY ALL")
    assert query.returncode == 0, query.stderr
    assert "open" in query.stdout
    assert "closed" in query.stdout


def test_cli_errors_are_one_line_without_traceback(offload_env: dict[str, str]) -> None:
    env = {**os.environ, **offload_env}
    env["JOURNEYS_OFFLOAD_STORE__TOKEN"] = "changeme"
    bad_settings = subprocess.run(
        journeys_command("offload", "nightly"), env=env, capture_output=True, text=True
    )
    bad_sql = subprocess.run(
        journeys_command("sql", "SELECT * FROM no_such_view"),
        env={**os.environ, **offload_env},
        capture_output=True,
        text=True,
    )
    for result in (bad_settings, bad_sql):
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stderr.startswith("error:")
