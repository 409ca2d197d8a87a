"""Fixtures: a throw-away Airflow installation whose DAGS_FOLDER is the repository's ``dags/``.

Airflow reads its configuration when it is first imported, so it never runs inside the test
process: every Airflow command is a subprocess with ``AIRFLOW_HOME`` and the config set in its
environment. The metadata database is migrated once per session (the slow part, ~10 s).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO / "dags"
_TIMEOUT_S = 240


@dataclass(frozen=True)
class AirflowHome:
    """A migrated Airflow home and the environment that selects it."""

    home: Path
    env: dict[str, str]

    def run(
        self, argv: Sequence[str], env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run an Airflow command (or any command) in this home; output captured."""
        return subprocess.run(
            list(argv),
            env={**self.env, **(env or {})},
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=_TIMEOUT_S,
            check=False,
        )

    def python(
        self, code: str, *args: str, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run Python ``code`` with this interpreter in this home."""
        return self.run([sys.executable, "-c", code, *args], env)

    def airflow(
        self, *args: str, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``airflow ARGS`` with this interpreter's Airflow."""
        return self.run([sys.executable, "-m", "airflow", *args], env)


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> AirflowHome:
    """A fresh AIRFLOW_HOME (SQLite, no examples, DAGS_FOLDER = dags/), migrated once."""
    home = tmp_path_factory.mktemp("airflow_home")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "JOURNEYS_"))},
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    installation = AirflowHome(home, env)
    migrated = installation.airflow("db", "migrate")
    if migrated.returncode != 0:
        pytest.fail(
            f"airflow db migrate failed:\n{migrated.stdout[-3000:]}{migrated.stderr[-3000:]}"
        )
    return installation
