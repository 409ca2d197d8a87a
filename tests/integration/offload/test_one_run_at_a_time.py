"""Two offload runs at once: the second fails at once in one line, the first completes, and
no journey is lost (the second would otherwise delete the first's uncommitted files)."""

from __future__ import annotations

import os
import subprocess
import threading
from datetime import date

import pyarrow.compute as pc
import pytest

from offload import (
    HOUSEKEEPING_CHECKPOINTS,
    NIGHTLY_CHECKPOINTS,
    JobSummary,
    OffloadSettings,
    run_housekeeping,
    run_nightly,
)
from offload.progress import HOUSEKEEPING_WRITTEN, NIGHTLY_WRITTEN
from tests.support.offload_lake import assert_invariant, by_key, closed_table, demo_rows, open_table
from tests.support.offload_store import PrivateStore
from tests.support.processes import journeys_command

pytestmark = pytest.mark.integration

RUN_DATE = date(2026, 11, 21)


class _PauseAt:
    """An observer that holds the run at one checkpoint until released."""

    def __init__(self, checkpoint: str) -> None:
        assert checkpoint in NIGHTLY_CHECKPOINTS + HOUSEKEEPING_CHECKPOINTS
        self.at = checkpoint
        self.reached = threading.Event()
        self.release = threading.Event()

    def step(self, name: str, total: int | None) -> None:
        pass

    def advance(self, rows: int) -> None:
        pass

    def checkpoint(self, name: str) -> None:
        if name == self.at:
            self.reached.set()
            assert self.release.wait(timeout=120)


def _cli(job: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        journeys_command("offload", job, "--date", str(RUN_DATE)),
        env={**os.environ, **env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("job", "pause_at"), [("nightly", NIGHTLY_WRITTEN), ("housekeeping", HOUSEKEEPING_WRITTEN)]
)
def test_a_second_run_while_one_is_between_write_and_commit_fails_clearly_and_nothing_is_lost(
    store: PrivateStore,
    settings: OffloadSettings,
    offload_env: dict[str, str],
    job: str,
    pause_at: str,
) -> None:
    before = store.upsert(demo_rows(40))
    first = _PauseAt(pause_at)
    results: list[JobSummary | BaseException] = []
    run = run_nightly if job == "nightly" else run_housekeeping

    def first_run() -> None:
        try:
            results.append(run(settings, RUN_DATE, observer=first))
        except BaseException as exc:  # reported by the assertion below
            results.append(exc)

    thread = threading.Thread(target=first_run)
    thread.start()
    assert first.reached.wait(timeout=120)
    second_nightly, second_housekeeping = (
        _cli("nightly", offload_env),
        _cli("housekeeping", offload_env),
    )
    first.release.set()
    thread.join(timeout=120)

    for second in (second_nightly, second_housekeeping):
        assert second.returncode == 1, second.stdout + second.stderr
        assert len(second.stderr.strip().splitlines()) == 1, second.stderr
        assert "another offload run holds the lake's lock" in second.stderr
        assert f"{job}, pid {os.getpid()}" in second.stderr
    assert len(results) == 1
    assert isinstance(results[0], JobSummary), results
    store_rows = store.rows()
    if job == "nightly":
        opened = store_rows.filter(pc.equal(store_rows["status"], "open"))
        assert by_key(open_table(settings)) == by_key(opened)
    else:
        assert_invariant(store_rows, closed_table(settings), by_key(before))
        assert pc.sum(pc.equal(store_rows["status"], "closed")).as_py() in (0, None)
    again = _cli(job, offload_env)  # the lock was released with the first run
    assert again.returncode == 0, again.stdout + again.stderr
