"""Reading the lake with Apache Iceberg's Java library (tests/java/iceberg-reader/).

The jars are the ones pinned in ``tests/java/iceberg-reader/pom.xml``, fetched by
``make iceberg-java`` (part of ``make test``) into ``.cache/iceberg-java-<version>/libs``. The
reader is one Java source file run by Java's single-file source launcher (a JRE's ``java``
compiles it; no build step). A missing JDK or missing jars fail the test with one line saying
what to run, never a skip.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pytest

from offload import Lake, OffloadSettings
from offload.iceberg_tables import CATALOG_FILE

REPOSITORY: Final = Path(__file__).resolve().parents[2]
READER_DIR: Final = REPOSITORY / "tests" / "java" / "iceberg-reader"
POM: Final = READER_DIR / "pom.xml"
READER: Final = READER_DIR / "IcebergJavaReader.java"
_TIMEOUT_S: Final = 180.0


def pinned_version() -> str:
    """The Apache Iceberg version the pom pins."""
    found = re.search(r"<iceberg\.version>([^<]+)</iceberg\.version>", POM.read_text())
    assert found is not None, f"no <iceberg.version> in {POM}"
    return found.group(1)


def cache_libs() -> Path:
    """Where ``make iceberg-java`` puts the jars."""
    return REPOSITORY / ".cache" / f"iceberg-java-{pinned_version()}" / "libs"


def _require() -> tuple[str, Path]:
    """``java`` and the jar directory, or a one-line test failure naming the fix."""
    java = shutil.which("java")
    if java is None:
        pytest.fail(
            "no java on PATH for the Iceberg Java reader test: install a JDK 17 "
            "(Debian: apt-get install openjdk-17-jre-headless maven), then `make iceberg-java`",
            pytrace=False,
        )
    libs = cache_libs()
    if not (libs / ".complete").exists():
        pytest.fail(
            f"Apache Iceberg {pinned_version()} Java jars not in {libs}: run `make iceberg-java` "
            "(Maven fetches them from Maven Central; `make test` runs it)",
            pytrace=False,
        )
    return java, libs


@dataclass
class JavaRead:
    """What the Java reader returned for one read: its rows and the snapshot it read."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    snapshot: int | None = None
    count: int = -1


def run_java_reader(
    settings: OffloadSettings, *reads: str, timeout_s: float = _TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    """Run the Java reader on the lake's SQLite catalog; ``reads`` as the reader takes them
    (``journeys_current``, ``journeys_current@snapshot=ID``, ``journeys_closed@as-of=MILLIS``,
    any of them with ``!count`` for the summary line only)."""
    java, libs = _require()
    lake = Lake(settings.lake_uri)
    command = [
        java,
        "-cp",
        f"{libs}/*",
        str(READER),
        lake.path(CATALOG_FILE),
        lake.iceberg_uri(lake.root),
        settings.iceberg_catalog_name,
        settings.iceberg_namespace,
        *reads,
    ]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout_s, check=False, cwd=READER_DIR
    )


def read_with_java(settings: OffloadSettings, *reads: str) -> dict[str, JavaRead]:
    """The rows and snapshot of each read (see :func:`run_java_reader`); fails the test if
    the reader fails."""
    done = run_java_reader(settings, *reads)
    if done.returncode != 0:
        pytest.fail(f"the Iceberg Java reader failed:\n{done.stderr[-5000:]}", pytrace=False)
    results: dict[str, JavaRead] = {read: JavaRead() for read in reads}
    for line in done.stdout.splitlines():
        record = json.loads(line)
        result = results[record["read"]]
        if "row" in record:
            result.rows.append(record["row"])
        else:
            result.snapshot, result.count = record["snapshot"], record["rows"]
    for read, result in results.items():
        assert result.count == len(result.rows), f"{read}: summary and rows differ"
    return results
