"""``journeys offload migrate`` rewrites data files written without Iceberg field ids."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from offload import CLOSED_TABLE, CURRENT_TABLE, LakeTables, OffloadSettings
from offload.migration import migrate_parquet_lake
from tests.support.offload_lake import by_key, commit_without_field_ids, demo_rows
from tests.unit.offload.test_field_ids import (
    assert_table_ids,
    file_ids,
    settings,
    table_rows,
    tables,
)

__all__ = ["settings", "tables"]  # fixtures


def test_migrate_rewrites_old_style_files_in_one_commit_per_table(
    settings: OffloadSettings, tables: LakeTables
) -> None:
    lake = tables.lake
    rows = demo_rows(200)
    closed = rows.filter(pc.equal(rows.column("status"), "closed"))
    old_open = [lake.path(CURRENT_TABLE, "data", "old", f"part-{n}.parquet") for n in (0, 1)]
    Path(old_open[0]).parent.mkdir(parents=True)
    pq.write_table(rows.slice(0, 100), old_open[0])  # JOURNEY_SCHEMA, no field ids
    pq.write_table(rows.slice(100), old_open[1])
    month = pc.strftime(closed.column("closed_at"), "%Y-%m")[0].as_py()
    old_closed = lake.path(CLOSED_TABLE, "data", f"closed_month={month}", "old-0.parquet")
    Path(old_closed).parent.mkdir(parents=True)
    in_month = closed.filter(pc.equal(pc.strftime(closed.column("closed_at"), "%Y-%m"), month))
    pq.write_table(in_month, old_closed)
    assert all(set(file_ids(path).values()) == {-1} for path in [*old_open, old_closed])
    commit_without_field_ids(tables, CURRENT_TABLE, old_open)
    commit_without_field_ids(tables, CLOSED_TABLE, [old_closed])
    before = {
        name: (tables.table(name).current_snapshot(), table_rows(tables, name))
        for name in (CURRENT_TABLE, CLOSED_TABLE)
    }

    report = migrate_parquet_lake(settings)

    assert report.rewritten_files == {CURRENT_TABLE: 2, CLOSED_TABLE: 1}
    for name, (snapshot, content) in before.items():
        table = tables.table(name)
        assert snapshot is not None
        current = table.current_snapshot()
        assert current is not None
        assert current.parent_snapshot_id == snapshot.snapshot_id  # exactly one commit
        assert len(table.snapshots()) == 2
        assert current.summary is not None
        assert current.summary.additional_properties["journeys.run-id"] == f"old-{name}"
        paths = tables.file_paths(name)
        assert all(Path(path).name.startswith("fieldids-") for path in paths)
        assert_table_ids(tables, name, paths)
        assert by_key(table_rows(tables, name)) == by_key(content)
        # The snapshot from before still reads its old files (through the name mapping).
        assert by_key(table_rows(tables, name, snapshot.snapshot_id)) == by_key(content)

    again = migrate_parquet_lake(settings)
    assert again.rewritten_files == {CURRENT_TABLE: 0, CLOSED_TABLE: 0}
    assert all(len(tables.table(name).snapshots()) == 2 for name in before)


def test_migrate_deletes_the_copies_an_interrupted_run_left(
    settings: OffloadSettings, tables: LakeTables
) -> None:
    lake = tables.lake
    old = lake.path(CURRENT_TABLE, "data", "old", "part-0.parquet")
    Path(old).parent.mkdir(parents=True)
    pq.write_table(demo_rows(20), old)
    commit_without_field_ids(tables, CURRENT_TABLE, [old])
    leftover = Path(lake.path(CURRENT_TABLE, "data", "old", "fieldids-dead0000-0.parquet"))
    leftover.write_bytes(b"torn")
    migrate_parquet_lake(settings)
    assert not leftover.exists()
    (current,) = tables.file_paths(CURRENT_TABLE)
    assert Path(current).name.startswith("fieldids-")
