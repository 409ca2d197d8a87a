"""StackSecrets: made once per data directory; a stack.json from before --airflow keeps its
tokens and gains Airflow's login and JWT key, written back so later starts agree."""

from __future__ import annotations

import json
from pathlib import Path

from devstack import StackSecrets


def test_secrets_are_made_once_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "stack.json"
    made = StackSecrets.load_or_create(path)
    assert StackSecrets.load_or_create(path) == made
    assert path.stat().st_mode & 0o077 == 0


def test_an_older_stack_json_keeps_its_tokens_and_gains_the_airflow_secrets(
    tmp_path: Path,
) -> None:
    path = tmp_path / "stack.json"
    names = ("reader_token", "writer_token", "offloader_token", "admin_token", "api_key")
    old = {name: f"{name}-value" for name in names}
    path.write_text(json.dumps(old))
    first = StackSecrets.load_or_create(path)
    assert first.offloader_token == "offloader_token-value"
    assert first.airflow_password
    assert first.airflow_jwt_secret
    assert StackSecrets.load_or_create(path) == first  # persisted, not made again
    assert json.loads(path.read_text())["reader_token"] == "reader_token-value"
