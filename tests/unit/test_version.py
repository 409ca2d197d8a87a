"""The version is declared once (pyproject.toml) and every surface shows that one."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

from typer.testing import CliRunner

import journeys
from api import create_app
from cli.app import app as cli
from tests.support.gateway_app import gateway_settings

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def declared_version() -> str:
    declared: str = tomllib.loads(PYPROJECT.read_text())["project"]["version"]
    return declared


def test_the_installed_version_is_the_one_declared_in_pyproject() -> None:
    assert version("journeys") == declared_version()
    assert journeys.__version__ == declared_version()


def test_cli_version_option_prints_it() -> None:
    result = CliRunner().invoke(cli, ["--version"])

    assert result.exit_code == 0
    assert result.output.strip() == f"journeys {declared_version()}"


def test_gateway_openapi_document_carries_it() -> None:
    document = create_app(gateway_settings()).openapi()

    assert document["info"]["version"] == declared_version()
