"""``journeys sql --as-of``: any time inside the retention window answers with the snapshot
current then, across an expiry; a time before the oldest snapshot kept is one clear error."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app
from offload import CURRENT_TABLE, LakeTables, OffloadSettings
from tests.support.offload_lake import commit_rows, demo_rows, offload_settings

runner = CliRunner()
COUNT_OPEN = "SELECT count(*) AS n FROM journeys_current"


def _commit(settings: OffloadSettings, customers: int, start: int) -> tuple[int, datetime]:
    """Commit a new content of journeys_current; its row count and a time just after the commit."""
    rows = demo_rows(customers, start=start)
    commit_rows(settings, CURRENT_TABLE, rows)
    time.sleep(0.02)  # snapshot timestamps are milliseconds: keep the moments apart
    after = datetime.now(UTC)
    time.sleep(0.02)
    return rows.num_rows, after


def _sql_as_of(settings: OffloadSettings, when: datetime) -> tuple[int, str]:
    result = runner.invoke(
        app,
        ["sql", COUNT_OPEN, "--lake", settings.lake_uri, "--as-of", when.isoformat()],
        env={"COLUMNS": "200"},
    )
    return result.exit_code, result.output


def _count(output: str) -> int:
    cells = [line.strip("│ ") for line in output.splitlines() if "│" in line]
    return int(cells[-1].replace(",", ""))


@pytest.fixture
def settings(tmp_path: Path) -> OffloadSettings:
    return offload_settings(tmp_path)


def test_expiry_keeps_the_snapshot_current_at_the_start_of_the_window(
    settings: OffloadSettings,
) -> None:
    _commit(settings, 3, start=1)
    second_rows, window_start = _commit(settings, 5, start=100)
    _commit(settings, 7, start=200)

    expired = LakeTables(settings).expire_snapshots(CURRENT_TABLE, older_than=window_start)

    assert expired == 1  # only the first: the second was current when the window starts
    code, output = _sql_as_of(settings, window_start)
    assert code == 0, output
    assert _count(output) == second_rows


def test_as_of_before_the_oldest_snapshot_kept_fails_in_one_line_naming_the_oldest_time(
    settings: OffloadSettings,
) -> None:
    _, before_expiry = _commit(settings, 3, start=1)
    _, window_start = _commit(settings, 5, start=100)
    _commit(settings, 7, start=200)
    tables = LakeTables(settings)
    tables.expire_snapshots(CURRENT_TABLE, older_than=window_start)
    oldest_ms = tables.table(CURRENT_TABLE).history()[0].timestamp_ms
    oldest = datetime.fromtimestamp(oldest_ms / 1000, UTC)

    code, output = _sql_as_of(settings, before_expiry)

    assert code == 1, output
    assert len(output.strip().splitlines()) == 1, output
    assert "Traceback" not in output
    assert "before the oldest snapshot kept" in output
    assert f"the oldest time available is {oldest.isoformat()}" in output


def test_as_of_before_a_tables_first_commit_is_the_empty_table(
    settings: OffloadSettings,
) -> None:
    _commit(settings, 3, start=1)

    code, output = _sql_as_of(settings, datetime(2000, 1, 1, tzinfo=UTC))

    assert code == 0, output
    assert _count(output) == 0
