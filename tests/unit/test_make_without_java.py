"""Without a JDK, `make up` and `make test` stop at once with one line saying what to install."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def path_without_java(tmp_path: Path) -> str:
    """A PATH with the shell tools make's recipes use, and no java or mvn."""
    for tool in ("sh", "sed", "cat", "env"):
        found = shutil.which(tool)
        assert found is not None, tool
        (tmp_path / tool).symlink_to(found)
    return str(tmp_path)


@pytest.mark.parametrize("target", ["up", "test"])
def test_make_without_java_prints_one_line_naming_the_packages(
    path_without_java: str, target: str
) -> None:
    make = shutil.which("make")
    assert make is not None
    done = subprocess.run(
        [make, "-C", str(REPO), "--no-print-directory", target],
        env={"PATH": path_without_java, "HOME": "/nonexistent"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = (done.stdout + done.stderr).splitlines()
    assert done.returncode != 0
    assert len(lines) == 1, lines
    assert "openjdk-17-jre-headless maven" in lines[0]
    assert "--kafka" in lines[0]
    assert "JOURNEYS_KAFKA_HOME" in lines[0]
