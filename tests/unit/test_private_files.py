"""``journeys up``'s data directory is owner-only, including what an older version left."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack import make_private


@pytest.fixture
def restore_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_dir_and_its_files_become_owner_only(tmp_path: Path, restore_umask: None) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    old = data / "stack.json"
    old.write_text("{}")
    old.chmod(0o644)

    make_private(data, "logs")
    new = data / "logs" / "store.log"
    new.write_text("created after")

    assert mode(data) == 0o700
    assert mode(data / "logs") == 0o700
    assert mode(old) == 0o600
    assert mode(new) == 0o600


def test_a_traversable_data_dir_can_be_passed_through_but_not_listed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "logs").mkdir(parents=True)
    (data / "stack.json").write_text("{}")
    make_private(data, "logs", traversable=True)
    assert mode(data) == 0o711
    assert mode(data / "logs") == 0o700
    assert mode(data / "stack.json") == 0o600
