"""Readers for the files under ``deploy/`` and the settings classes they configure.

The deploy tests use these to check the files against the code: every variable an env file or
the compose file names must be a field of a pydantic-settings class (found by its env prefix),
and every field must be documented.
"""

from __future__ import annotations

import configparser
import importlib
import re
import secrets
import types
import typing
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel
from pydantic_settings import BaseSettings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"

#: Values that start with this are placeholders the processes must refuse.
PLACEHOLDER_PREFIX = "CHANGEME"

_ENV_LINE = re.compile(r"^(?P<comment>#\s*)?(?P<key>JOURNEYS_[A-Z0-9_]+)=(?P<value>.*)$")


@dataclass(frozen=True)
class EnvFile:
    """An env file: the variables it sets and those it only shows commented out."""

    path: Path
    active: dict[str, str]
    commented: dict[str, str]

    @property
    def documented(self) -> set[str]:
        """Every variable the file names, set or commented."""
        return set(self.active) | set(self.commented)

    def placeholders(self) -> list[str]:
        """Variables set to a placeholder value."""
        return [key for key, value in self.active.items() if is_placeholder(value)]


def is_placeholder(value: str) -> bool:
    """True for the deploy files' marked placeholder values."""
    return value.strip().upper().startswith(PLACEHOLDER_PREFIX)


def strong_secret() -> str:
    """A value any placeholder validator must accept."""
    return secrets.token_hex(24)


def read_env_file(path: Path) -> EnvFile:
    """Parse ``KEY=value`` lines (and ``# KEY=value`` lines shown as optional)."""
    active: dict[str, str] = {}
    commented: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = _ENV_LINE.match(line.strip())
        if match is None:
            continue
        target = commented if match["comment"] else active
        target[match["key"]] = match["value"]
    return EnvFile(path, active, commented)


# --- settings classes ----------------------------------------------------------------------

#: The import packages of the ``journeys`` distribution.
PRODUCT_PACKAGES: Final = ("api", "responder", "store", "offload", "journeys")


def _settings_modules() -> list[str]:
    """Modules of the product's packages whose file name says they hold settings.

    Found by file name, not by importing packages, so a settings module that fails to import
    fails the test instead of silently disappearing.
    """
    names = []
    paths = (p for package in PRODUCT_PACKAGES for p in (REPO / package).rglob("*.py"))
    for path in sorted(paths):
        if "settings" in path.stem or "config" in path.stem:
            names.append(".".join(path.relative_to(REPO).with_suffix("").parts))
    return names


@cache
def settings_classes() -> dict[str, type[BaseSettings]]:
    """Every pydantic-settings class of the product's packages, by its env prefix."""
    found: dict[str, type[BaseSettings]] = {}
    for name in _settings_modules():
        module = importlib.import_module(name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseSettings)
                and value is not BaseSettings
                and value.__module__ == module.__name__
            ):
                prefix = value.model_config.get("env_prefix") or ""
                if prefix:
                    found[prefix.upper()] = value
    return found


def prefix_of(key: str, prefixes: typing.Iterable[str]) -> str | None:
    """The longest prefix in ``prefixes`` that ``key`` starts with."""
    matches = [prefix for prefix in prefixes if key.startswith(prefix)]
    return max(matches, key=len) if matches else None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation (``X``, ``X | None``, ``Annotated[X, ...]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _model_in(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        for arg in typing.get_args(annotation):
            model = _model_in(arg)
            if model is not None:
                return model
    return None


def _has_own_prefix(model: type[BaseModel]) -> bool:
    return issubclass(model, BaseSettings) and bool(model.model_config.get("env_prefix"))


@dataclass(frozen=True)
class SettingsVariables:
    """The env variables one settings class reads."""

    valid: frozenset[str]  # every name it accepts (including whole nested objects as JSON)
    leaves: frozenset[str]  # the names a settings file must document


def settings_variables(cls: type[BaseSettings]) -> SettingsVariables:
    """Env variable names of ``cls``: nested models expand with its nested delimiter.

    A nested field whose type is itself a settings class with its own prefix (the gateway's
    ``kafka``) is read from that prefix and documented there, so it adds no leaves here.
    """
    prefix = (cls.model_config.get("env_prefix") or "").upper()
    delimiter = cls.model_config.get("env_nested_delimiter") or ""
    valid: set[str] = set()
    leaves: set[str] = set()

    def walk(model: type[BaseModel], path: str, top: bool) -> None:
        for name, field in model.model_fields.items():
            env_name = path + name.upper()
            valid.add(env_name)
            nested = _model_in(field.annotation)
            if nested is None:
                leaves.add(env_name)
                continue
            if top and _has_own_prefix(nested):
                if delimiter:
                    _all_names(nested, env_name + delimiter.upper(), valid)
                continue
            if delimiter:
                walk(nested, env_name + delimiter.upper(), top=False)
            else:
                leaves.add(env_name)

    walk(cls, prefix, top=True)
    return SettingsVariables(frozenset(valid), frozenset(leaves))


def _all_names(model: type[BaseModel], path: str, into: set[str]) -> None:
    for name, field in model.model_fields.items():
        into.add(path + name.upper())
        nested = _model_in(field.annotation)
        if nested is not None:
            _all_names(nested, path + name.upper() + "__", into)


# --- systemd units -------------------------------------------------------------------------


def read_unit(path: Path) -> configparser.RawConfigParser:
    """A systemd unit as INI (keys keep their case; repeated keys: the last one wins)."""
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text(), source=str(path))
    return parser


def unit_values(path: Path, section: str, key: str) -> list[str]:
    """Every value of a key that may repeat (``Environment=``, ``EnvironmentFile=``)."""
    values: list[str] = []
    current = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
        elif current == section and line.startswith(f"{key}="):
            values.append(line.split("=", 1)[1])
    return values


def unit_environment(path: Path) -> dict[str, str]:
    """The ``Environment=`` assignments of a unit's [Service] section."""
    pairs = (value.split("=", 1) for value in unit_values(path, "Service", "Environment"))
    return {key: value for key, value in pairs}
