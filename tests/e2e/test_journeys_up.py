"""``journeys up`` as a user runs it: the printed curl returns journeys; Ctrl-C stops it all."""

from __future__ import annotations

import json
import shlex
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from devstack import free_up_ports
from tests.support.cli_process import LineReader
from tests.support.processes import journeys_command, port_open

pytestmark = pytest.mark.e2e


def _up(data_dir: Path, ports: dict[str, int]) -> LineReader:
    args = ["up", "--data-dir", str(data_dir), "--demo-customers", "200"]
    for option, port in ports.items():
        args += [f"--{option}", str(port)]
    return LineReader(journeys_command(*args))


def _run_curl(curl_line: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(shlex.split(curl_line), capture_output=True, text=True, timeout=30)


def assert_owner_only(data_dir: Path) -> None:
    """Tokens, the API key, the database and the logs are readable by their owner only."""
    for directory in (data_dir, data_dir / "logs"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    files = [path for path in data_dir.rglob("*") if path.is_file()]
    assert {"stack.json", "journeys.duckdb", "gateway.log"} <= {path.name for path in files}
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def test_printed_curl_returns_journeys_and_a_restart_keeps_the_data(tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed, so the printed command cannot be run as printed")
    ports = free_up_ports()
    data_dir = tmp_path / "data"

    first = _up(data_dir, ports)
    try:
        curl = first.wait_for_line("curl ", timeout=180)
        result = _run_curl(curl)
        assert result.returncode == 0, result.stderr
        body = json.loads(result.stdout)
        assert body["customer_id"] == "cust-0000001"
        assert body["journeys"], body
        assert all(j["status"] == "open" for j in body["journeys"])
        first_ids = sorted(j["journey_id"] for j in body["journeys"])
    except BaseException:
        first.kill()
        raise
    assert first.terminate() == 0, "\n".join(first.seen)
    assert not any(port_open(p) for p in ports.values()), "a process outlived `journeys up`"
    assert any("demo data" in line for line in first.seen)
    assert_owner_only(data_dir)

    second = _up(data_dir, ports)
    try:
        curl_again = second.wait_for_line("curl ", timeout=180)
        assert curl_again == curl, "the API key and URL stay the same across restarts"
        body = json.loads(_run_curl(curl_again).stdout)
        assert sorted(j["journey_id"] for j in body["journeys"]) == first_ids
    except BaseException:
        second.kill()
        raise
    assert second.terminate() == 0, "\n".join(second.seen)
    assert not any("demo data" in line for line in second.seen), "second start re-seeded"
