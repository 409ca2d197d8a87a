"""deploy/env/*.env: every variable is a real settings field, every field is documented, and
placeholder secrets are refused by the settings validators (so a copied file fails fast)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from tests.support.deploy_files import (
    DEPLOY,
    EnvFile,
    prefix_of,
    read_env_file,
    settings_classes,
    settings_variables,
    strong_secret,
)

#: Which settings classes (by env prefix) configure each process's file.
PREFIXES = {
    "store.env": ("JOURNEYS_STORE_",),
    "responder.env": ("JOURNEYS_RESPONDER_", "JOURNEYS_KAFKA_"),
    "gateway.env": ("JOURNEYS_GATEWAY_", "JOURNEYS_KAFKA_"),
    "offload.env": ("JOURNEYS_OFFLOAD_",),
}

#: Placeholders whose class does not refuse them yet; strict: the day it does, this fails and
#: the entry must go.
NOT_REFUSED_YET: dict[str, str] = {}


def _settings_class(prefix: str) -> type[BaseSettings]:
    cls = settings_classes().get(prefix)
    if cls is None:
        pytest.skip(f"no settings class with env prefix {prefix} exists yet")
    return cls


def _env(name: str) -> EnvFile:
    return read_env_file(DEPLOY / "env" / name)


def _placeholder_cases() -> list[Any]:
    cases = []
    for name in PREFIXES:
        for key in _env(name).placeholders():
            # Strict: the day the class refuses it, the XPASS fails and the entry must go.
            marks = (
                [pytest.mark.xfail(strict=True, reason=NOT_REFUSED_YET[key])]
                if key in NOT_REFUSED_YET
                else []
            )
            cases.append(pytest.param(name, key, marks=marks, id=f"{name}-{key}"))
    return cases


def _build_all(env_file: EnvFile, monkeypatch: pytest.MonkeyPatch, keep: str | None) -> None:
    """Export the file as systemd would (placeholders replaced except ``keep``), build each
    settings class of the file."""
    import os

    for key in list(os.environ):
        if key.startswith("JOURNEYS_"):
            monkeypatch.delenv(key)
    for key, value in env_file.active.items():
        placeholder = key in env_file.placeholders()
        monkeypatch.setenv(key, value if (key == keep or not placeholder) else strong_secret())
    for prefix in PREFIXES[env_file.path.name]:
        _settings_class(prefix)()


def test_every_process_has_an_env_file() -> None:
    assert sorted(p.name for p in (DEPLOY / "env").glob("*.env")) == sorted(PREFIXES)


@pytest.mark.parametrize("name", sorted(PREFIXES))
def test_env_file_names_only_real_settings_fields(name: str) -> None:
    env_file = _env(name)
    unknown = []
    for key in sorted(env_file.documented):
        prefix = prefix_of(key, PREFIXES[name])
        if prefix is None:
            unknown.append(f"{key} (prefix not used by this process)")
            continue
        if key not in settings_variables(_settings_class(prefix)).valid:
            unknown.append(key)
    assert not unknown, f"{name} documents variables no settings class reads: {unknown}"


@pytest.mark.parametrize("name", sorted(PREFIXES))
def test_env_file_documents_every_settings_field(name: str) -> None:
    env_file = _env(name)
    missing = []
    for prefix in PREFIXES[name]:
        leaves = settings_variables(_settings_class(prefix)).leaves
        missing += sorted(leaves - env_file.documented)
    assert not missing, f"{name} does not document these settings: {missing}"


@pytest.mark.parametrize("name", sorted(PREFIXES))
def test_env_file_has_a_comment_above_every_variable(name: str) -> None:
    lines = (DEPLOY / "env" / name).read_text().splitlines()
    bare = []
    for index, line in enumerate(lines):
        if line.startswith("JOURNEYS_") and not lines[index - 1].startswith("#"):
            bare.append(line.split("=", 1)[0])
    assert bare == []


@pytest.mark.parametrize("name", sorted(PREFIXES))
def test_env_file_is_valid_once_placeholders_are_replaced(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _build_all(_env(name), monkeypatch, keep=None)


@pytest.mark.parametrize(("name", "key"), _placeholder_cases())
def test_placeholder_secret_is_refused_at_start(
    name: str, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValidationError):
        _build_all(_env(name), monkeypatch, keep=key)


def test_every_secret_in_the_env_files_is_a_placeholder() -> None:
    secretish = ("TOKEN", "PASSWORD", "API_KEYS")
    for name in PREFIXES:
        env_file = _env(name)
        for key, value in env_file.active.items():
            if any(word in key for word in secretish):
                assert key in env_file.placeholders(), f"{name}: {key}={value} is a real secret?"


def test_store_env_sets_every_role_token() -> None:
    env_file = _env("store.env")
    for role in ("READER", "WRITER", "OFFLOADER", "ADMIN"):
        assert f"JOURNEYS_STORE_{role}_TOKENS" in env_file.active


def test_gateway_env_has_no_store_settings() -> None:
    # The gateway lives in the DMZ: nothing about the store may reach its environment.
    assert [key for key in _env("gateway.env").documented if "STORE" in key] == []


@pytest.mark.parametrize("name", ["responder.env", "gateway.env"])
def test_production_kafka_clients_wait_for_all_replicas(name: str) -> None:
    active = _env(name).active
    assert active["JOURNEYS_KAFKA_PRODUCER_ACKS"] == "all"
    assert active["JOURNEYS_KAFKA_CREATE_TOPICS"] == "false"


def test_env_files_are_plain_key_value_lines() -> None:
    # systemd's EnvironmentFile=, docker's env_file and `set -a; .` must read them alike:
    # no quotes, no `export`, no inline comments.
    for path in sorted(Path(DEPLOY / "env").glob("*.env")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if not line or line.startswith("#"):
                continue
            key, _, value = line.partition("=")
            where = f"{path.name}:{number}"
            assert key.isupper(), where
            assert " " not in key, where
            assert not value.startswith(("'", '"')), where
            assert " #" not in value, where


@pytest.mark.parametrize("name", ["gateway.env", "responder.env"])
def test_the_documented_kafka_defaults_are_the_codes(name: str) -> None:
    """The fetch-wait and session-timeout defaults quoted in the comments are the code's values."""
    from journeys.kafka.settings import FETCH_MAX_WAIT_MS as WAIT
    from journeys.kafka.settings import HEARTBEAT_INTERVAL_MS as BEAT
    from journeys.kafka.settings import SESSION_TIMEOUT_MS as SESSION

    text = " ".join((DEPLOY / "env" / name).read_text().replace("#", " ").split())
    assert f"Fetch wait in ms (default: {WAIT})" in text
    assert f"(defaults: {SESSION}/{BEAT})" in text
