"""Fixtures of the offload integration tests: a private store server, settings and the lake."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from offload import Lake, OffloadSettings
from tests.support.offload_lake import offload_env_of, offload_settings
from tests.support.offload_store import PrivateStore, private_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[PrivateStore]:
    """A store server of this test only (housekeeping purges whole stores)."""
    with private_store(tmp_path) as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, store: PrivateStore) -> OffloadSettings:
    """Offload settings for ``store`` with the lake, catalog and metrics under tmp_path."""
    return offload_settings(tmp_path, url=store.url, token=store.tokens["offloader"])


@pytest.fixture
def lake(settings: OffloadSettings) -> Lake:
    """The test's lake."""
    return Lake(settings.lake_uri)


@pytest.fixture
def offload_env(settings: OffloadSettings) -> dict[str, str]:
    """The same settings as JOURNEYS_OFFLOAD_* variables, for job subprocesses."""
    return offload_env_of(settings)
