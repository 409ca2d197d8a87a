"""deploy/systemd/: units parse, carry the keys and hardening we rely on, and match the env
files, the CLI and the Airflow schedules."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.deploy_files import (
    DEPLOY,
    read_env_file,
    read_unit,
    unit_environment,
    unit_values,
)

UNITS = DEPLOY / "systemd"
SERVICES = sorted(UNITS.glob("*.service"))
LONG_RUNNING = [path for path in SERVICES if "offload" not in path.name]
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "DynamicUser": "yes",
}
#: CLI command each unit must run (checked against the Typer app).
COMMANDS = {
    "journeys-store.service": ["store", "serve"],
    "journeys-responder@.service": ["responder", "run"],
    "journeys-gateway@.service": ["gateway", "serve"],
    "journeys-offload-nightly.service": ["offload", "nightly"],
    "journeys-offload-housekeeping.service": ["offload", "housekeeping"],
}
#: Timers run the same schedule as the Airflow DAGs (dags/).
SCHEDULES = {
    "journeys-offload-nightly.timer": "*-*-* 02:00:00",
    "journeys-offload-housekeeping.timer": "Sat *-*-* 03:00:00",
}


def _ids(paths: list[Path]) -> list[str]:
    return [path.name for path in paths]


def test_every_process_has_a_unit() -> None:
    assert sorted(path.name for path in SERVICES) == sorted(COMMANDS)


@pytest.mark.parametrize("path", SERVICES, ids=_ids(SERVICES))
def test_service_units_have_the_required_keys(path: Path) -> None:
    unit = read_unit(path)
    assert unit.get("Unit", "Description")
    assert unit.get("Service", "ExecStart").startswith("/")
    for key, value in HARDENING.items():
        assert unit.get("Service", key) == value, f"{path.name}: {key}"


@pytest.mark.parametrize("path", LONG_RUNNING, ids=_ids(LONG_RUNNING))
def test_long_running_services_restart_on_failure_and_start_at_boot(path: Path) -> None:
    unit = read_unit(path)
    assert unit.get("Service", "Restart") == "on-failure"
    assert unit.get("Service", "KillSignal") == "SIGTERM"
    assert unit.get("Service", "TimeoutStopSec")
    assert unit.get("Install", "WantedBy") == "multi-user.target"


@pytest.mark.parametrize("path", SERVICES, ids=_ids(SERVICES))
def test_environment_file_is_one_of_deploy_env(path: Path) -> None:
    files = unit_values(path, "Service", "EnvironmentFile")
    required = [name for name in files if not name.startswith("-")]
    assert len(required) == 1
    assert required[0].startswith("/etc/journeys/")
    assert (DEPLOY / "env" / Path(required[0]).name).is_file()


@pytest.mark.parametrize("path", SERVICES, ids=_ids(SERVICES))
def test_unit_runs_a_real_cli_command(path: Path) -> None:
    import typer.main

    from cli.app import app

    exec_start = read_unit(path).get("Service", "ExecStart").split()
    assert exec_start[0].endswith("/bin/journeys")
    assert exec_start[1:] == COMMANDS[path.name]
    command = typer.main.get_command(app)
    for word in exec_start[1:]:
        # Typer may bundle its own click: duck-type the group instead of isinstance.
        assert hasattr(command, "get_command"), f"{word}: not a command group"
        sub = command.get_command(command.context_class(command), word)
        assert sub is not None, f"`journeys {' '.join(exec_start[1:])}` does not exist"
        command = sub


@pytest.mark.parametrize(
    ("unit_name", "env_name"),
    [
        ("journeys-gateway@.service", "gateway.env"),
        ("journeys-responder@.service", "responder.env"),
    ],
)
def test_templated_units_own_their_per_instance_variables(unit_name: str, env_name: str) -> None:
    # EnvironmentFile= overrides Environment=: the shared file must not set what the unit sets
    # per instance, or every instance would get the same value.
    per_instance = unit_environment(UNITS / unit_name)
    assert per_instance
    assert all("%i" in value for value in per_instance.values())
    shared = read_env_file(DEPLOY / "env" / env_name)
    assert set(per_instance) & set(shared.active) == set()
    assert set(per_instance) - {"JOURNEYS_KAFKA_CLIENT_ID"} <= shared.documented


def test_gateway_instance_number_is_its_reply_partition() -> None:
    env = unit_environment(UNITS / "journeys-gateway@.service")
    assert env["JOURNEYS_GATEWAY_REPLY_PARTITION"] == "%i"


@pytest.mark.parametrize(("timer_name", "calendar"), sorted(SCHEDULES.items()))
def test_offload_timers_match_the_airflow_schedule(timer_name: str, calendar: str) -> None:
    timer = read_unit(UNITS / timer_name)
    assert timer.get("Timer", "OnCalendar") == calendar
    assert timer.get("Timer", "Persistent") == "true"
    assert timer.get("Install", "WantedBy") == "timers.target"
    service = UNITS / timer_name.replace(".timer", ".service")
    assert read_unit(service).get("Service", "Type") == "oneshot"
    assert "Airflow" in service.read_text(), "the unit must say not to run it beside Airflow"


def test_systemd_analyze_verify_reports_nothing(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed on this machine")
    # verify checks that executables and files exist: point them into a scratch copy.
    (tmp_path / "bin").mkdir()
    fake = tmp_path / "bin" / "journeys"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    for env_file in (DEPLOY / "env").glob("*.env"):
        (tmp_path / env_file.name).write_text("A=1\n")
    names = []
    for path in sorted(UNITS.iterdir()):
        text = path.read_text().replace("/opt/journeys/venv/bin/journeys", str(fake))
        (tmp_path / path.name).write_text(text.replace("/etc/journeys/", f"{tmp_path}/"))
        names.append(path.name.replace("@.", "@0."))
    result = subprocess.run(
        [analyze, "verify", "--man=no", *[f"./{name}" for name in names]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    complaints = [line for line in result.stderr.splitlines() if str(tmp_path) in line]
    assert complaints == [], result.stderr
    assert result.returncode == 0, result.stderr
