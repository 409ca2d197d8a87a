"""``journeys up`` keeps serving when one of its children is killed: it restarts the child."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.cli_process import LineReader
from tests.support.processes import free_port, journeys_command

pytestmark = pytest.mark.e2e

PORT_OPTIONS = (
    "gateway-port",
    "broker-port",
    "store-port",
    "store-metrics-port",
    "responder-metrics-port",
)


def child_pid(parent: int, subcommand: str) -> int:
    """The pid of ``journeys <subcommand> …`` started by ``parent`` (read from /proc)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and subcommand.encode() in argv and b"cli" in argv:
            return int(entry.name)
    raise LookupError(f"no `journeys {subcommand}` child of {parent}")


def curl_answers(curl_line: str, within_s: float) -> bool:
    """The printed curl returns journeys within ``within_s`` (polled)."""
    argv = [*shlex.split(curl_line), "--fail", "--max-time", "3"]
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
        if result.returncode == 0 and '"journeys":[{' in result.stdout:
            return True
        time.sleep(0.25)
    return False


@pytest.mark.timeout(400)
def test_journeys_up_restarts_a_killed_responder_and_gateway(tmp_path: Path) -> None:
    args = ["up", "--data-dir", str(tmp_path / "data"), "--demo-customers", "50"]
    for option in PORT_OPTIONS:
        args += [f"--{option}", str(free_port())]
    up = LineReader(journeys_command(*args))
    try:
        curl = up.wait_for_line("curl ", timeout=180)
        assert curl_answers(curl, within_s=15)
        for subcommand in ("responder", "gateway"):
            os.kill(child_pid(up.proc.pid, subcommand), signal.SIGKILL)
            assert curl_answers(curl, within_s=15), f"no answer 15 s after killing the {subcommand}"
            assert up.proc.poll() is None, "journeys up stopped"
            # The console says what happened (the line was printed before the child came back).
            assert "restarting in" in up.wait_for_line(f"{subcommand} exited", timeout=5)
    except BaseException:
        if up.terminate() != 0:
            up.kill()
        raise
    assert up.terminate() == 0, "\n".join(up.seen)
