"""The legacy Parquet layout of ``journeys_closed`` (before Iceberg), read by the migration.

Layout (one partition per ISO week of the housekeeping run, one part per run that week)::

    journeys_closed/week=2026-W47/part-0.parquet          closed journeys (JOURNEY_SCHEMA)
    journeys_closed/week=2026-W47/_part-0.written.json    snapshot_at, the store's row count
    journeys_closed/week=2026-W47/_part-0.audited.json    the audit passed
    journeys_closed/week=2026-W47/_part-0.purged.json     the store purge finished

A part belongs to ``journeys_closed`` once it is **committed** (its ``purged`` marker exists).
Before that its rows are still in the store (or, briefly between purge and marker, in neither —
a rerun resumes such a part from its manifest and never rescans it). Analysts' views list the
committed parts only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from offload.lake import Lake

CLOSED_TABLE: Final = "journeys_closed"
_PART_RE: Final = re.compile(r"^_?part-(\d+)[.]")


def partition_name(run_date: date) -> str:
    """The partition a run on ``run_date`` writes to: its ISO week, e.g. ``week=2026-W47``."""
    year, week, _ = run_date.isocalendar()
    return f"week={year}-W{week:02d}"


@dataclass(frozen=True)
class Part:
    """One part of a partition and how far it got."""

    partition: str
    number: int
    has_file: bool
    written: dict[str, Any] | None
    audited: bool
    purged: dict[str, Any] | None

    @property
    def path(self) -> str:
        """The part's data file, relative to the lake root."""
        return f"{CLOSED_TABLE}/{self.partition}/part-{self.number}.parquet"

    def marker(self, stage: str) -> str:
        """The marker file of ``stage`` (written, audited, purged), relative to the lake root."""
        return f"{CLOSED_TABLE}/{self.partition}/_part-{self.number}.{stage}.json"

    @property
    def committed(self) -> bool:
        """True once the part is in ``journeys_closed`` for good."""
        return self.purged is not None


def part_from_path(lake: Lake, path: str) -> Part:
    """The recorded state of the part whose data file is ``path`` (relative to the root)."""
    table, partition, name = path.split("/")
    match = _PART_RE.match(name)
    if table != CLOSED_TABLE or match is None:
        raise ValueError(f"not a part of {CLOSED_TABLE}: {path}")
    return _load(lake, partition, int(match.group(1)))


def _load(lake: Lake, partition: str, number: int) -> Part:
    base = f"{CLOSED_TABLE}/{partition}"
    return Part(
        partition=partition,
        number=number,
        has_file=lake.exists(lake.path(base, f"part-{number}.parquet")),
        written=lake.read_json(lake.path(base, f"_part-{number}.written.json")),
        audited=lake.exists(lake.path(base, f"_part-{number}.audited.json")),
        purged=lake.read_json(lake.path(base, f"_part-{number}.purged.json")),
    )


def partitions(lake: Lake) -> list[str]:
    """Names of the partitions of ``journeys_closed``, oldest first."""
    names = lake.list_dir(lake.path(CLOSED_TABLE), dirs=True)
    return [name for name in names if name.startswith("week=")]


def parts(lake: Lake, partition: str | None = None) -> list[Part]:
    """Every part (of one partition, or of all) with its recorded state."""
    result: list[Part] = []
    for name in [partition] if partition else partitions(lake):
        numbers = set()
        for file in lake.list_dir(lake.path(CLOSED_TABLE, name), dirs=False):
            if match := _PART_RE.match(file):
                numbers.add(int(match.group(1)))
        result.extend(_load(lake, name, number) for number in sorted(numbers))
    return result


def committed_files(lake: Lake) -> list[str]:
    """Filesystem paths of the committed parts' data files: the ``journeys_closed`` table."""
    return [lake.path(part.path) for part in parts(lake) if part.committed]
