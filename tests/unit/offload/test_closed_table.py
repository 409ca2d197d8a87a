"""Partition names of journeys_closed and the recorded state of its parts."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from offload import Lake
from offload.closed_table import (  # the legacy layout (migration)
    committed_files,
    part_from_path,
    partition_name,
    parts,
)


@pytest.mark.parametrize(
    ("run_date", "partition"),
    [
        (date(2026, 11, 21), "week=2026-W47"),
        (date(2026, 11, 16), "week=2026-W47"),  # Monday and Saturday of one week: one partition
        (date(2027, 1, 1), "week=2026-W53"),  # ISO year, not calendar year
        (date(2025, 12, 29), "week=2026-W01"),
    ],
)
def test_partition_is_the_iso_week_of_the_run(run_date: date, partition: str) -> None:
    assert partition_name(run_date) == partition


def test_part_state_follows_its_marker_files(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    base = tmp_path / "journeys_closed" / "week=2026-W47"
    base.mkdir(parents=True)
    (base / "part-0.parquet").write_bytes(b"x")
    lake.write_json(lake.path("journeys_closed", "week=2026-W47", "_part-0.written.json"), {})
    (base / "_part-0.audited.json").write_text("{}")
    lake.write_json(
        lake.path("journeys_closed", "week=2026-W47", "_part-0.purged.json"), {"purged": 3}
    )
    (base / "part-1.parquet").write_bytes(b"x")
    (base / ".part-2.parquet.tmp-abc").write_bytes(b"x")

    found = parts(lake)
    assert [(p.number, p.has_file, p.audited, p.committed) for p in found] == [
        (0, True, True, True),
        (1, True, False, False),
    ]
    assert committed_files(lake) == [lake.path("journeys_closed/week=2026-W47/part-0.parquet")]
    assert part_from_path(lake, found[1].path) == found[1]
    with pytest.raises(ValueError, match="not a part"):
        part_from_path(lake, "journeys_open/snapshots/x")
