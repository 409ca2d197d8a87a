"""One offload run at a time per lake: a second run fails at once in one line, the holder's
own steps re-enter, and a run killed with SIGKILL leaves nothing locked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app
from offload import Lake, OffloadLocked, OffloadSettings, migrate_parquet_lake
from offload.run_lock import offload_lock
from tests.support.offload_lake import offload_settings

runner = CliRunner()

_HOLDER = """
import sys, time
from offload import Lake
from offload.run_lock import offload_lock
with offload_lock(Lake(sys.argv[1]), "nightly"):
    print("held", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def settings(tmp_path: Path) -> OffloadSettings:
    return offload_settings(tmp_path)


@pytest.fixture
def holder(settings: OffloadSettings) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lake's lock (as a run in progress does)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, settings.lake_uri],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[3],
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    yield proc
    proc.kill()
    proc.wait(timeout=10)
    proc.stdout.close()


def _env(settings: OffloadSettings) -> dict[str, str]:
    return {
        "COLUMNS": "200",
        "JOURNEYS_OFFLOAD_LAKE_URI": settings.lake_uri,
        "JOURNEYS_OFFLOAD_CATALOG_PATH": str(settings.catalog_path),
        "JOURNEYS_OFFLOAD_METRICS_DIR": str(settings.metrics_dir),
        "JOURNEYS_OFFLOAD_STORE__URL": settings.store.url,
        "JOURNEYS_OFFLOAD_STORE__TOKEN": settings.store.token.get_secret_value(),
    }


@pytest.mark.parametrize("job", ["nightly", "housekeeping", "migrate"])
def test_a_second_run_fails_at_once_in_one_line_naming_the_run_that_holds_the_lake(
    settings: OffloadSettings, holder: subprocess.Popen[str], job: str
) -> None:
    started = time.monotonic()
    result = runner.invoke(app, ["offload", job], env=_env(settings))
    took = time.monotonic() - started

    assert result.exit_code == 1, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "Traceback" not in result.output
    assert "another offload run holds the lake's lock" in result.output
    assert f"nightly, pid {holder.pid}" in result.output
    assert took < 10  # it does not wait for the other run


def test_a_lock_held_by_a_process_killed_with_sigkill_does_not_block_the_next_run(
    settings: OffloadSettings, holder: subprocess.Popen[str]
) -> None:
    with pytest.raises(OffloadLocked):
        migrate_parquet_lake(settings)

    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=10)

    report = migrate_parquet_lake(settings)  # a whole (empty) run under the lock
    assert report.open_rows == 0
    result = runner.invoke(app, ["offload", "migrate"], env=_env(settings))
    assert result.exit_code == 0, result.output


def test_the_holder_re_enters_but_another_thread_of_its_process_is_refused(
    settings: OffloadSettings,
) -> None:
    lake = Lake(settings.lake_uri)
    refused: list[BaseException] = []

    def other_thread() -> None:
        try:
            with offload_lock(lake, "housekeeping"):
                pass
        except OffloadLocked as exc:
            refused.append(exc)

    with offload_lock(lake, "nightly"), offload_lock(lake, "nightly"):
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join(timeout=10)
    with offload_lock(lake, "housekeeping"):  # released when the outermost holder leaves
        pass

    assert len(refused) == 1
