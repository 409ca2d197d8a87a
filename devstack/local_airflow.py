"""Airflow 3 in the local stack (``journeys up --airflow``): our ``dags/`` on 127.0.0.1.

``airflow standalone`` (api-server, scheduler, dag-processor, triggerer, LocalExecutor, SQLite)
runs in ``<data_dir>/airflow`` as one child process group, stopped with the rest of the stack.
Before it starts, the metadata database is migrated and the offload jobs are configured the way
an operator would, with Airflow's own CLI: the connection ``journeys_store`` (the local store,
password = offloader token) and the variable ``journeys_lake_uri`` (``<data_dir>/lake``). The
login is ``admin`` with a password made once per data directory (``stack.json``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from devstack.child_process import ChildProcess
from devstack.errors import StackError

HOST = "127.0.0.1"
ADMIN_USER = "admin"
#: Where the repository's DAG files are (a source checkout: journeys/ and dags/ side by side).
REPO = Path(__file__).resolve().parents[1]
DAGS_FOLDER = REPO / "dags"
_CLI_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class StoreConnection:
    """Airflow's ``journeys_store`` connection, as the DAGs read it (offload/airflow_settings)."""

    conn_type: str  # "generic" (store server over Flight) or "postgres"
    host: str
    port: int
    password: str
    login: str | None = None
    schema: str | None = None

    def as_json(self) -> dict[str, object]:
        """The connection in ``airflow connections import`` form."""
        fields: dict[str, object] = {
            "conn_type": self.conn_type,
            "host": self.host,
            "port": self.port,
            "password": self.password,
        }
        if self.login is not None:
            fields["login"] = self.login
        if self.schema is not None:
            fields["schema"] = self.schema
        return fields


class LocalAirflow:
    """A private Airflow installation in ``home`` serving the repository's DAGs on ``port``."""

    def __init__(
        self,
        home: Path,
        port: int,
        *,
        password: str,
        jwt_secret: str,
        offload_env: Mapping[str, str],
        log_path: Path,
        ready_timeout_s: float = 300.0,
    ) -> None:
        self.home = home
        self.port = port
        self.password = password
        self.jwt_secret = jwt_secret
        self.offload_env = dict(offload_env)
        self.log_path = log_path
        self.ready_timeout_s = ready_timeout_s

    @property
    def url(self) -> str:
        """The Airflow UI and REST API."""
        return f"http://{HOST}:{self.port}"

    def env(self) -> dict[str, str]:
        """Airflow's configuration for every process of this installation."""
        return {
            **self.offload_env,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self._passwords_file),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home / 'airflow.db'}",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
            "AIRFLOW__API__HOST": HOST,
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": self.jwt_secret,
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            # The DAG files import offload/ and journeys/ from this checkout; standalone starts
            # its components as `airflow …`, this environment's script.
            "PYTHONPATH": str(REPO),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        }

    @property
    def _passwords_file(self) -> Path:
        return self.home / "simple_auth_manager_passwords.json"

    def prepare(self) -> None:
        """Migrate the metadata database and write the login (idempotent)."""
        if not DAGS_FOLDER.is_dir():
            raise StackError(f"--airflow needs a source checkout: {DAGS_FOLDER} is missing")
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._passwords_file.touch(mode=0o600)
        self._passwords_file.write_text(json.dumps({ADMIN_USER: self.password}))
        self.airflow("db", "migrate")

    def configure(self, connection: StoreConnection, lake_uri: str) -> None:
        """Set the ``journeys_store`` connection and ``journeys_lake_uri`` variable by the CLI."""
        connections = self.home / "journeys_connections.json"
        variables = self.home / "journeys_variables.json"
        for path, content in (
            (connections, {"journeys_store": connection.as_json()}),
            (variables, {"journeys_lake_uri": lake_uri}),
        ):
            path.touch(mode=0o600)
            path.write_text(json.dumps(content))
        try:
            self.airflow("connections", "import", str(connections), "--overwrite")
            self.airflow("variables", "import", str(variables), "-a", "overwrite")
        finally:
            connections.unlink(missing_ok=True)  # holds the offloader token
            variables.unlink(missing_ok=True)

    def airflow(self, *args: str) -> str:
        """Run ``airflow ARGS`` in this installation; its output, or :class:`StackError`."""
        return _run([sys.executable, "-m", "airflow", *args], {**self.env()}, self.home)

    def process(self) -> ChildProcess:
        """``airflow standalone``: ready once the UI answers and the scheduler is healthy."""
        return ChildProcess(
            "Airflow",
            [sys.executable, "-m", "airflow", "standalone"],
            self.log_path,
            env=self.env(),
            ready=self._healthy,
            ready_timeout_s=self.ready_timeout_s,
            cwd=self.home,
        )

    def _healthy(self) -> bool:
        health = httpx.get(f"{self.url}/api/v2/monitor/health", timeout=5.0).json()
        parts = ("metadatabase", "scheduler", "dag_processor")
        return all(health.get(part, {}).get("status") == "healthy" for part in parts)


def _run(argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> str:
    try:
        done = subprocess.run(  # noqa: S603 (our own argv list, no shell)
            list(argv),
            env={**os.environ, **env},
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=_CLI_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StackError(f"airflow {' '.join(argv[3:])} failed: {exc}") from exc
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-2000:]
        raise StackError(f"airflow {' '.join(argv[3:])} failed ({done.returncode}):\n{tail}")
    return done.stdout
