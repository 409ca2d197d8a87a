"""SIGKILL a job at each step boundary, rerun it, and check the invariant.

The lake is the Iceberg tables (pyiceberg, SQLite catalog in the lake). The job runs as a
subprocess (``tests.support.offload_crash_runner``) that kills itself at the
chosen boundary; the rerun is the real CLI. For housekeeping, two closed journeys are changed
in the store right after the job's snapshot (one re-opened, one updated), so the crash points
between purge and commit really have rows the store must keep.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from offload import (
    CLOSED_TABLE,
    CURRENT_TABLE,
    HOUSEKEEPING_CHECKPOINTS,
    NIGHTLY_CHECKPOINTS,
    Lake,
    LakeTables,
    OffloadSettings,
    run_housekeeping,
    run_nightly,
)
from offload.housekeeping import DONE, RUNS
from offload.lake import is_temporary
from tests.support.offload_lake import (
    assert_invariant,
    by_key,
    closed_table,
    current_table,
    demo_rows,
    open_table,
    reopen_and_change,
)
from tests.support.offload_store import PrivateStore
from tests.support.processes import journeys_command

pytestmark = pytest.mark.integration

RUN_DATE = date(2026, 11, 21)


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, env={**os.environ, **env}, capture_output=True, text=True, timeout=120, check=False
    )


def _crash(job: str, crash_at: str, env: dict[str, str], *extra: str) -> None:
    argv = [sys.executable, "-m", "tests.support.offload_crash_runner", job, str(RUN_DATE)]
    result = _run([*argv, crash_at, *extra], env)
    assert result.returncode == -signal.SIGKILL, result.stdout + result.stderr
    assert f"checkpoint {crash_at}" in result.stdout


def _rerun(job: str, env: dict[str, str]) -> None:
    result = _run(journeys_command("offload", job, "--date", str(RUN_DATE)), env)
    assert result.returncode == 0, result.stdout + result.stderr


def _no_temporaries(root: Path) -> None:
    assert [p for p in root.rglob("*") if is_temporary(p.name)] == []


def _only_referenced_data_files(settings: OffloadSettings, lake: Lake, table: str) -> None:
    """Every Parquet file under the table's data/ is read by some live snapshot."""
    referenced = LakeTables(settings).referenced_paths(table)
    on_disk = {str(path) for path in Path(lake.path(table, "data")).rglob("*.parquet")}
    assert on_disk == referenced


@pytest.mark.parametrize("crash_at", NIGHTLY_CHECKPOINTS)
def test_nightly_after_a_kill_at_each_boundary_and_a_rerun_publishes_one_whole_snapshot(
    crash_at: str,
    store: PrivateStore,
    settings: OffloadSettings,
    lake: Lake,
    offload_env: dict[str, str],
) -> None:
    store.upsert(demo_rows(60))
    _crash("nightly", crash_at, offload_env)
    _rerun("nightly", offload_env)

    rows = store.rows()
    opened = by_key(rows.filter(pc.equal(rows["status"], "open")))
    assert by_key(open_table(settings)) == opened
    assert len(LakeTables(settings).table(CURRENT_TABLE).snapshots()) == 1  # committed once
    _only_referenced_data_files(settings, lake, CURRENT_TABLE)
    _no_temporaries(Path(lake.root))


@pytest.mark.parametrize("crash_at", HOUSEKEEPING_CHECKPOINTS)
def test_housekeeping_after_a_kill_at_each_boundary_and_a_rerun_keeps_the_invariant(
    crash_at: str,
    store: PrivateStore,
    settings: OffloadSettings,
    lake: Lake,
    offload_env: dict[str, str],
    tmp_path: Path,
) -> None:
    before = store.upsert(demo_rows(60))
    changed = reopen_and_change(before.filter(pc.equal(before["status"], "closed")))
    mutation = tmp_path / "mutation.parquet"
    pq.write_table(changed, mutation)
    env = {**offload_env, "OFFLOAD_TEST_WRITER_TOKEN": store.tokens["writer"]}

    _crash("housekeeping", crash_at, env, str(mutation))
    _rerun("housekeeping", env)

    expected = {**by_key(before), **by_key(changed)}
    store_rows = store.rows()
    assert_invariant(store_rows, closed_table(settings), expected)
    assert pc.sum(pc.equal(store_rows["status"], "closed")).as_py() in (0, None)
    runs = lake.list_dir(lake.path(RUNS), dirs=True)
    assert runs
    assert all(lake.exists(lake.path(RUNS, run, DONE)) for run in runs)
    _only_referenced_data_files(settings, lake, CLOSED_TABLE)
    _only_referenced_data_files(settings, lake, CURRENT_TABLE)
    _no_temporaries(Path(lake.root))
    # The raw tables are disjoint again: journeys_current is the store after the purge.
    assert set(by_key(current_table(settings))) == set(by_key(store_rows))
    assert not set(by_key(current_table(settings))) & set(by_key(closed_table(settings)))


class _Recorder:
    def __init__(self) -> None:
        self.checkpoints: list[str] = []

    def step(self, name: str, total: int | None) -> None:
        pass

    def advance(self, rows: int) -> None:
        pass

    def checkpoint(self, name: str) -> None:
        self.checkpoints.append(name)


def test_a_normal_run_passes_every_listed_boundary_in_order(
    store: PrivateStore, settings: OffloadSettings
) -> None:
    store.upsert(demo_rows(30))
    nightly, housekeeping = _Recorder(), _Recorder()
    run_nightly(settings, RUN_DATE, observer=nightly)
    run_housekeeping(settings, RUN_DATE, observer=housekeeping)
    assert tuple(nightly.checkpoints) == NIGHTLY_CHECKPOINTS
    assert tuple(housekeeping.checkpoints) == HOUSEKEEPING_CHECKPOINTS
