"""Weekend housekeeping against a real store server."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from journeys.schema import JOURNEY_SCHEMA
from offload import (
    AuditFailed,
    Lake,
    OffloadSettings,
    audit_closed_part,
    purge_closed_part,
    run_housekeeping,
    write_closed_part,
)
from offload.closed_table import parts
from tests.support.offload_lake import (
    assert_invariant,
    by_key,
    closed_table,
    demo_rows,
    reopen_and_change,
)
from tests.support.offload_store import PrivateStore

pytestmark = pytest.mark.integration

SATURDAY = date(2026, 11, 21)
SUNDAY = date(2026, 11, 22)


def _status(table: pa.Table, status: str) -> dict[tuple[str, str], dict[str, object]]:
    return by_key(table.filter(pc.equal(table["status"], status)))


def test_housekeeping_moves_exactly_the_closed_rows_to_journeys_closed(
    store: PrivateStore, settings: OffloadSettings, lake: Lake
) -> None:
    before = store.upsert(demo_rows(200))
    summary = run_housekeeping(settings, SATURDAY)

    closed = closed_table(lake)
    assert closed.schema.equals(JOURNEY_SCHEMA, check_metadata=True)
    assert by_key(closed) == _status(before, "closed")
    assert by_key(store.rows()) == _status(before, "open")
    assert summary.rows == closed.num_rows > 0
    assert summary.details["purged"] == closed.num_rows
    assert [(p.partition, p.number) for p in parts(lake)] == [("week=2026-W47", 0)]
    assert_invariant(store.rows(), closed, by_key(before))


def test_rerunning_housekeeping_is_idempotent(
    store: PrivateStore, settings: OffloadSettings, lake: Lake
) -> None:
    before = store.upsert(demo_rows(80))
    run_housekeeping(settings, SATURDAY)
    lake_after_first = by_key(closed_table(lake))
    store_after_first = by_key(store.rows())

    second = run_housekeeping(settings, SATURDAY)

    assert second.rows == 0
    assert by_key(closed_table(lake)) == lake_after_first
    assert by_key(store.rows()) == store_after_first
    assert len(parts(lake)) == 1
    assert_invariant(store.rows(), closed_table(lake), by_key(before))


def test_a_row_updated_after_the_housekeeping_snapshot_stays_in_the_store(
    store: PrivateStore, settings: OffloadSettings, lake: Lake
) -> None:
    before = store.upsert(demo_rows(80))
    path = write_closed_part(settings, SATURDAY).path
    assert path is not None
    changed = reopen_and_change(before.filter(pc.equal(before["status"], "closed")))
    after_change = store.upsert(changed)  # after the snapshot, before the purge

    audit_closed_part(settings, path)
    purged = purge_closed_part(settings, path)

    changed_keys = set(by_key(changed))
    in_store = by_key(store.rows())
    assert changed_keys <= set(in_store)
    assert purged.kept_in_store == 2
    assert not changed_keys & set(by_key(closed_table(lake)))
    reopened, still_closed = changed.to_pylist()
    key = (still_closed["customer_id"], still_closed["journey_id"])
    assert in_store[key]["priority"] == still_closed["priority"]
    assert in_store[(reopened["customer_id"], reopened["journey_id"])]["status"] == "open"
    assert_invariant(store.rows(), closed_table(lake), by_key(after_change))


def test_rows_closed_later_in_the_same_week_go_to_a_new_part_of_the_partition(
    store: PrivateStore, settings: OffloadSettings, lake: Lake
) -> None:
    before = store.upsert(demo_rows(60))
    run_housekeeping(settings, SATURDAY)
    first_part = pq.read_table(lake.path(parts(lake)[0].path))
    still_open = before.filter(pc.equal(before["status"], "open")).slice(0, 3).to_pylist()
    for row in still_open:
        row.update(status="closed", closed_at=row["updated_at"])
    now = store.upsert(pa.Table.from_pylist(still_open, schema=JOURNEY_SCHEMA))

    run_housekeeping(settings, SUNDAY)  # same ISO week

    found = parts(lake)
    assert [(p.partition, p.number, p.committed) for p in found] == [
        ("week=2026-W47", 0, True),
        ("week=2026-W47", 1, True),
    ]
    assert pq.read_table(lake.path(found[0].path)).equals(first_part)
    assert pq.read_table(lake.path(found[1].path)).num_rows == 3
    expected = {**by_key(before), **by_key(now)}
    assert_invariant(store.rows(), closed_table(lake), expected)


def test_purge_refuses_a_part_that_was_not_audited(
    store: PrivateStore, settings: OffloadSettings, lake: Lake
) -> None:
    before = store.upsert(demo_rows(30))
    path = write_closed_part(settings, SATURDAY).path
    assert path is not None
    with pytest.raises(AuditFailed, match="not audited"):
        purge_closed_part(settings, path)
    assert by_key(store.rows()) == by_key(before)
