"""``journeys sql`` and ``journeys catalog`` read the lake only: no store settings, one-line
errors, and they find the lake ``journeys up`` printed from the directory it was started in."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner, Result

from cli.app import app
from offload import CLOSED_TABLE, CURRENT_TABLE, build_catalog
from tests.support.offload_lake import commit_rows, demo_rows, offload_settings

runner = CliRunner()
COUNT_ALL = "SELECT count(*) AS n FROM journeys_all"


@pytest.fixture(autouse=True)
def _no_offload_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """An analyst's shell: no JOURNEYS_OFFLOAD_* (no store token) and no JOURNEYS_UP_*."""
    for name in list(os.environ):
        if name.startswith(("JOURNEYS_OFFLOAD_", "JOURNEYS_UP_")):
            monkeypatch.delenv(name)


def _stack_lake(root: Path, *, catalog: bool = True, data_dir: str = "data") -> int:
    """A lake where ``journeys up`` keeps it (``<root>/data/lake``); returns its row count."""
    settings = offload_settings(root / data_dir)
    rows = demo_rows(20)
    commit_rows(settings, CURRENT_TABLE, rows.filter(pc.equal(rows["status"], "open")))
    commit_rows(settings, CLOSED_TABLE, rows.filter(pc.equal(rows["status"], "closed")))
    if catalog:
        build_catalog(settings)
    return int(rows.num_rows)


def _count(output: str) -> int:
    cells = [line.strip("│ ") for line in output.splitlines() if "│" in line]
    return int(cells[-1].replace(",", ""))


def _one_line_error(result: Result) -> str:
    output = result.output
    assert result.exit_code == 1, output
    assert "Traceback" not in output
    assert len(output.strip().splitlines()) == 1, output
    return output


def test_sql_answers_from_the_directory_journeys_up_started_in_without_store_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = _stack_lake(tmp_path)
    monkeypatch.chdir(tmp_path)

    result = runner.invoke(app, ["sql", COUNT_ALL], env={"COLUMNS": "200"})

    assert result.exit_code == 0, result.output
    assert _count(result.output) == rows


def test_sql_reads_the_lake_itself_when_no_catalog_was_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = _stack_lake(tmp_path, catalog=False)
    monkeypatch.chdir(tmp_path)

    result = runner.invoke(app, ["sql", COUNT_ALL], env={"COLUMNS": "200"})

    assert result.exit_code == 0, result.output
    assert _count(result.output) == rows


def test_sql_takes_the_lake_from_the_option_or_one_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = _stack_lake(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    lake = str(tmp_path / "data" / "lake")

    by_option = runner.invoke(app, ["sql", COUNT_ALL, "--lake", lake], env={"COLUMNS": "200"})
    by_env = runner.invoke(
        app, ["sql", COUNT_ALL], env={"COLUMNS": "200", "JOURNEYS_OFFLOAD_LAKE_URI": lake}
    )

    assert by_option.exit_code == 0, by_option.output
    assert _count(by_option.output) == rows
    assert by_env.exit_code == 0, by_env.output
    assert _count(by_env.output) == rows


def test_journeys_up_data_dir_setting_is_searched_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = _stack_lake(tmp_path, data_dir="stack")
    monkeypatch.chdir(tmp_path)

    result = runner.invoke(
        app, ["sql", COUNT_ALL], env={"COLUMNS": "200", "JOURNEYS_UP_DATA_DIR": "stack"}
    )

    assert result.exit_code == 0, result.output
    assert _count(result.output) == rows


def test_sql_without_a_lake_says_in_one_line_what_to_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    output = _one_line_error(runner.invoke(app, ["sql", COUNT_ALL]))

    assert "no lake found" in output
    assert "--lake" in output
    assert "JOURNEYS_OFFLOAD_LAKE_URI" in output
    assert "Field required" not in output


def test_a_lake_option_naming_no_lake_fails_and_creates_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "not-a-lake"
    empty.mkdir()

    sql = _one_line_error(runner.invoke(app, ["sql", COUNT_ALL, "--lake", str(empty)]))
    catalog = _one_line_error(runner.invoke(app, ["catalog", "--lake", str(empty)]))

    assert "no Iceberg catalog" in sql
    assert "no Iceberg catalog" in catalog
    assert list(empty.iterdir()) == []
    assert not (tmp_path / "analytics.duckdb").exists()


def test_catalog_writes_the_catalog_next_to_the_lake_without_store_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stack_lake(tmp_path, catalog=False)
    monkeypatch.chdir(tmp_path)

    result = runner.invoke(app, ["catalog"], env={"COLUMNS": "200"})

    assert result.exit_code == 0, result.output
    assert (tmp_path / "data" / "analytics.duckdb").is_file()
    assert not (tmp_path / "analytics.duckdb").exists()


def test_the_offload_jobs_still_require_the_store_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stack_lake(tmp_path)
    monkeypatch.chdir(tmp_path)

    output = _one_line_error(
        runner.invoke(app, ["offload", "nightly"], env={"JOURNEYS_OFFLOAD_LAKE_URI": "data/lake"})
    )

    assert "store: Field required" in output
