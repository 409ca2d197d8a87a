"""Weekend housekeeping into the Iceberg table journeys_closed, against a real store server."""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from journeys.schema import JOURNEY_SCHEMA
from offload import (
    CLOSED_TABLE,
    AuditFailed,
    LakeTables,
    OffloadSettings,
    audit_closed_part,
    commit_closed_part,
    purge_closed_part,
    run_housekeeping,
    run_nightly,
    write_closed_part,
)
from offload.iceberg_tables import CLOSED_PARTITION, RUN_ID, STORE_SNAPSHOT_AT
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
NEXT_SATURDAY = date(2026, 11, 28)


def _status(table: pa.Table, status: str) -> dict[tuple[str, str], dict[str, object]]:
    return by_key(table.filter(pc.equal(table["status"], status)))


def _files(settings: OffloadSettings) -> list[str]:
    return LakeTables(settings).file_paths(CLOSED_TABLE)


def test_housekeeping_moves_exactly_the_closed_rows_to_journeys_closed(
    store: PrivateStore, settings: OffloadSettings
) -> None:
    before = store.upsert(demo_rows(200))
    summary = run_housekeeping(settings, SATURDAY)

    closed = closed_table(settings)
    assert closed.schema.equals(JOURNEY_SCHEMA)
    assert by_key(closed) == _status(before, "closed")
    assert by_key(store.rows()) == _status(before, "open")
    assert summary.rows == closed.num_rows > 0
    assert summary.details["purged"] == closed.num_rows
    table = LakeTables(settings).table(CLOSED_TABLE)
    assert [field.name for field in table.spec().fields] == [CLOSED_PARTITION]
    snapshot = table.current_snapshot()
    assert snapshot is not None
    assert snapshot.summary is not None
    assert snapshot.summary.additional_properties[RUN_ID].startswith("housekeeping-")
    assert STORE_SNAPSHOT_AT in snapshot.summary.additional_properties
    for path in _files(settings):  # one month of closed_at per file, named by it
        months = pc.unique(pc.strftime(pq.read_table(path)["closed_at"], "%Y-%m")).to_pylist()
        assert [f"{CLOSED_PARTITION}={month}" for month in months] == [path.split("/")[-2]]
    assert_invariant(store.rows(), closed, by_key(before))


def test_rerunning_housekeeping_is_idempotent(
    store: PrivateStore, settings: OffloadSettings
) -> None:
    before = store.upsert(demo_rows(80))
    run_housekeeping(settings, SATURDAY)
    lake_after_first = by_key(closed_table(settings))
    store_after_first = by_key(store.rows())
    snapshots = len(LakeTables(settings).table(CLOSED_TABLE).snapshots())

    second = run_housekeeping(settings, SATURDAY)

    assert second.rows == 0
    assert by_key(closed_table(settings)) == lake_after_first
    assert by_key(store.rows()) == store_after_first
    assert len(LakeTables(settings).table(CLOSED_TABLE).snapshots()) == snapshots
    assert_invariant(store.rows(), closed_table(settings), by_key(before))


def test_a_row_updated_after_the_housekeeping_snapshot_stays_in_the_store(
    store: PrivateStore, settings: OffloadSettings
) -> None:
    before = store.upsert(demo_rows(80))
    path = write_closed_part(settings, SATURDAY).path
    assert path is not None
    changed = reopen_and_change(before.filter(pc.equal(before["status"], "closed")))
    after_change = store.upsert(changed)  # after the snapshot, before the purge

    audit_closed_part(settings, path)
    commit_closed_part(settings, path)
    files_before_purge = set(_files(settings))
    purged = purge_closed_part(settings, path)

    changed_keys = set(by_key(changed))
    in_store = by_key(store.rows())
    assert changed_keys <= set(in_store)
    assert purged.kept_in_store == 2
    assert not changed_keys & set(by_key(closed_table(settings)))
    reopened, still_closed = changed.to_pylist()
    key = (still_closed["customer_id"], still_closed["journey_id"])
    assert in_store[key]["priority"] == still_closed["priority"]
    assert in_store[(reopened["customer_id"], reopened["journey_id"])]["status"] == "open"
    assert_invariant(store.rows(), closed_table(settings), by_key(after_change))
    # The kept rows left by a commit of new files; no committed file was rewritten.
    assert files_before_purge - set(_files(settings))
    assert set(_files(settings)) - files_before_purge


def test_a_closed_journey_sent_again_after_offload_is_replaced_not_doubled(
    store: PrivateStore, settings: OffloadSettings
) -> None:
    before = store.upsert(demo_rows(60))
    run_nightly(settings, SATURDAY)
    run_housekeeping(settings, SATURDAY)
    offloaded = closed_table(settings).slice(0, 1).to_pylist()
    offloaded[0]["priority"] += 7  # the re-export carries a changed value
    resent = store.upsert(pa.Table.from_pylist(offloaded, schema=JOURNEY_SCHEMA))
    key = (offloaded[0]["customer_id"], offloaded[0]["journey_id"])

    run_housekeeping(settings, NEXT_SATURDAY)

    closed = by_key(closed_table(settings))
    assert closed[key]["priority"] == offloaded[0]["priority"]
    expected = {**by_key(before), **by_key(resent)}
    assert_invariant(store.rows(), closed_table(settings), expected)
    con = duckdb.connect(str(settings.catalog_path), read_only=True)
    try:
        count = con.execute(
            "SELECT count(*) FROM journeys_all WHERE customer_id = ? AND journey_id = ?", key
        ).fetchone()
    finally:
        con.close()
    assert count == (1,)


def test_rows_closed_later_in_the_same_week_are_appended_by_a_second_commit(
    store: PrivateStore, settings: OffloadSettings
) -> None:
    before = store.upsert(demo_rows(60))
    run_housekeeping(settings, SATURDAY)
    first_files = set(_files(settings))
    still_open = before.filter(pc.equal(before["status"], "open")).slice(0, 3).to_pylist()
    for row in still_open:
        row.update(status="closed", closed_at=row["updated_at"])
    now = store.upsert(pa.Table.from_pylist(still_open, schema=JOURNEY_SCHEMA))

    run_housekeeping(settings, SUNDAY)

    assert first_files < set(_files(settings))
    expected = {**by_key(before), **by_key(now)}
    assert_invariant(store.rows(), closed_table(settings), expected)


def test_commit_and_purge_refuse_a_run_out_of_order(
    store: PrivateStore, settings: OffloadSettings
) -> None:
    before = store.upsert(demo_rows(30))
    path = write_closed_part(settings, SATURDAY).path
    assert path is not None
    with pytest.raises(AuditFailed, match="not audited"):
        commit_closed_part(settings, path)
    audit_closed_part(settings, path)
    with pytest.raises(AuditFailed, match="not committed"):
        purge_closed_part(settings, path)
    assert by_key(store.rows()) == by_key(before)
    assert closed_table(settings).num_rows == 0
