"""The store commands: one line on errors, and never the password of a store URL."""

from __future__ import annotations

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
