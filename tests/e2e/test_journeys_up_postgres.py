"""``journeys up --store postgres``: the printed curl answers from the private PostgreSQL."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

from tests.support.cli_process import LineReader
from tests.support.postgres_fixtures import require_postgres
from tests.support.processes import free_port, journeys_command, port_open

pytestmark = pytest.mark.e2e


def test_journeys_up_with_postgres_answers_the_printed_curl_from_postgresql() -> None:
    require_postgres()
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed, so the printed command cannot be run as printed")
    ports = {name: free_port() for name in ("gateway-port", "broker-port", "store-port",
                                            "responder-metrics-port")}  # fmt: skip
    # As root the cluster runs as 'postgres': its directory must be reachable (not /tmp/pytest-*).
    root = Path(tempfile.mkdtemp(prefix="journeys-up-pg-"))
    root.chmod(0o711)
    data_dir = root / "data"
    args = ["up", "--store", "postgres", "--data-dir", str(data_dir), "--demo-customers", "50"]
    for option, port in ports.items():
        args += [f"--{option}", str(port)]
    up = LineReader(journeys_command(*args))
    try:
        curl = up.wait_for_line("curl ", timeout=240)
        result = subprocess.run(shlex.split(curl), capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        body = json.loads(result.stdout)
        secrets = json.loads((data_dir / "stack.json").read_text())
        conninfo = (f"postgresql://journeys_admin@127.0.0.1:{ports['store-port']}/postgres"
                    f"?password={secrets['admin_token']}")  # fmt: skip
        with psycopg.connect(conninfo) as connection:
            stored = connection.execute(
                b"SELECT journey_id FROM journeys WHERE customer_id = %s AND status = 'open'",
                [body["customer_id"]],
            ).fetchall()
    except BaseException:
        up.kill()
        shutil.rmtree(root, ignore_errors=True)
        raise
    try:
        assert (data_dir / "pg" / "data" / "PG_VERSION").exists()
        assert not (data_dir / "journeys.duckdb").exists()
        assert up.terminate() == 0, "\n".join(up.seen)
        assert not any(port_open(p) for p in ports.values()), "a process outlived `journeys up`"
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert body["journeys"], body
    assert sorted(j["journey_id"] for j in body["journeys"]) == sorted(r[0] for r in stored)
