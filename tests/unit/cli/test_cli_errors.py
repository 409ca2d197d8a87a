"""CLI errors are one line, name what to do, and never show a password."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app
from journeys.secrets import url_without_password
from tests.support.processes import free_port

runner = CliRunner()


def test_seed_against_an_unreachable_store_prints_one_line_without_the_password() -> None:
    url = f"postgresql://journeys_writer:Sup3r-S3cret-Pw@127.0.0.1:{free_port()}/journeys"

    result = runner.invoke(
        app, ["seed", "--customers", "1", "--store-url", url, "--token", "x7Gq2-Lm9pR4vT8wZ1kB"]
    )

    assert result.exit_code == 1
    assert "Sup3r-S3cret-Pw" not in result.output
    assert "journeys_writer:***@127.0.0.1" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:pw@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("grpc://store:8815", "grpc://store:8815"),
        (
            "postgresql://u:p%40ss@h/db?sslmode=verify-full",
            "postgresql://u:***@h/db?sslmode=verify-full",
        ),
        ("postgresql://u:pw@[::1", "***@[::1"),
    ],
)
def test_url_without_password_hides_only_the_password(url: str, shown: str) -> None:
    assert url_without_password(url) == shown


def test_journeys_up_without_java_says_what_to_install_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no java anywhere
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.delenv("JOURNEYS_KAFKA_HOME", raising=False)

    result = runner.invoke(app, ["up", "--data-dir", str(tmp_path / "data")])

    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "openjdk-17-jre-headless maven" in lines[0]
    assert "--kafka" in lines[0]
    assert "Traceback" not in result.output
