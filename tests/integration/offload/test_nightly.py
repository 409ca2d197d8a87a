"""The nightly snapshot into the Iceberg table journeys_current, against a real store server."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from journeys.schema import JOURNEY_SCHEMA
from offload import (
    CURRENT_TABLE,
    AuditFailed,
    Lake,
    LakeTables,
    NotPublished,
    OffloadSettings,
    audit_open_snapshot,
    clean_open_snapshots,
    publish_open_snapshot,
    published_path,
    run_nightly,
    write_open_snapshot,
)
from offload.iceberg_tables import RUN_ID, STORE_SNAPSHOT_AT
from offload.nightly import DATA
from tests.support.offload_lake import by_key, current_table, demo_rows, open_table
from tests.support.offload_store import PrivateStore

pytestmark = pytest.mark.integration

DAY1 = date(2026, 11, 20)
DAY2 = date(2026, 11, 21)


def _open_rows(store: PrivateStore) -> dict[tuple[str, str], dict[str, object]]:
    rows = store.rows()
    return by_key(rows.filter(pc.equal(rows["status"], "open")))


def _data_dirs(lake: Lake) -> list[str]:
    return lake.list_dir(lake.path(DATA), dirs=True)


def _snapshots(settings: OffloadSettings) -> list[dict[str, str]]:
    table = LakeTables(settings).table(CURRENT_TABLE)
    return [
        snapshot.summary.additional_properties if snapshot.summary else {}
        for snapshot in table.snapshots()
    ]


def test_nightly_replaces_journeys_current_with_the_whole_store_in_one_commit(
    store: PrivateStore, settings: OffloadSettings, lake: Lake
) -> None:
    store.upsert(demo_rows(200))
    summary = run_nightly(settings, DAY1)

    published = current_table(settings)
    assert published.schema.equals(JOURNEY_SCHEMA)
    assert by_key(published) == by_key(store.rows())  # open and closed: no status filter
    assert set(published["status"].to_pylist()) == {"open", "closed"}
    assert by_key(open_table(settings)) == _open_rows(store)
    assert summary.rows == published.num_rows > 0
    (snapshot,) = _snapshots(settings)
    assert snapshot[RUN_ID] == f"nightly-{DAY1}"
    assert datetime.fromisoformat(snapshot[STORE_SNAPSHOT_AT]) <= datetime.now(UTC)
    for path in LakeTables(settings).file_paths(CURRENT_TABLE):
        assert path.startswith(lake.path(DATA, DAY1.isoformat()))
        metadata = pq.read_metadata(path)
        for group in range(metadata.num_row_groups):
            assert metadata.row_group(group).column(0).compression == "ZSTD"
    assert settings.metrics_dir is not None
    assert (settings.metrics_dir / "journeys_offload_nightly.prom").exists()


def test_rerunning_nightly_for_the_same_run_commits_nothing(
    store: PrivateStore, settings: OffloadSettings, lake: Lake
) -> None:
    store.upsert(demo_rows(50))
    run_nightly(settings, DAY1)
    first_rows = by_key(open_table(settings))
    store.upsert(demo_rows(10, start=900))  # would change the content, were it committed

    second = run_nightly(settings, DAY1)

    assert second.details["already_published"] is True
    assert len(_snapshots(settings)) == 1
    assert by_key(open_table(settings)) == first_rows
    assert len(_data_dirs(lake)) == 1


def test_next_night_replaces_the_content_and_the_old_snapshot_stays_readable(
    store: PrivateStore, settings: OffloadSettings, lake: Lake
) -> None:
    store.upsert(demo_rows(50))
    run_nightly(settings, DAY1)
    first = by_key(open_table(settings))
    first_id = LakeTables(settings).table(CURRENT_TABLE).snapshots()[0].snapshot_id
    store.upsert(demo_rows(30, start=1_000))
    run_nightly(settings, DAY2)

    assert by_key(open_table(settings)) == _open_rows(store)
    assert by_key(open_table(settings, first_id)) == first  # time travel within the retention
    assert len(_data_dirs(lake)) == 2


def test_snapshots_older_than_the_retention_expire_and_their_files_are_deleted(
    store: PrivateStore, settings: OffloadSettings, lake: Lake
) -> None:
    settings = settings.model_copy(update={"snapshot_retention_days": 0})
    store.upsert(demo_rows(40))
    run_nightly(settings, DAY1)
    store.upsert(demo_rows(20, start=1_000))
    run_nightly(settings, DAY2)

    assert len(_snapshots(settings)) == 1
    (only,) = _data_dirs(lake)
    assert only.startswith(DAY2.isoformat())
    assert by_key(open_table(settings)) == _open_rows(store)


def test_clean_refuses_a_run_that_is_not_published(
    store: PrivateStore, settings: OffloadSettings, lake: Lake
) -> None:
    store.upsert(demo_rows(40))
    run_nightly(settings, DAY1)
    new = write_open_snapshot(settings, DAY2).path
    audit_open_snapshot(settings, new)

    with pytest.raises(NotPublished):
        clean_open_snapshots(settings, new)
    assert len(_data_dirs(lake)) == 2
    publish_open_snapshot(settings, new)
    assert published_path(LakeTables(settings)) == new


def test_an_unaudited_or_tampered_run_is_never_committed(
    store: PrivateStore, settings: OffloadSettings, lake: Lake
) -> None:
    store.upsert(demo_rows(40))
    path = write_open_snapshot(settings, DAY1).path
    with pytest.raises(AuditFailed, match="not audited"):
        publish_open_snapshot(settings, path)
    part = lake.path(path, "part-0.parquet")
    table = pq.read_table(part)
    pq.write_table(table.slice(1), part)  # one row lost
    with pytest.raises(AuditFailed, match="rows written"):
        audit_open_snapshot(settings, path)
    assert LakeTables(settings).table(CURRENT_TABLE).current_snapshot() is None


def test_a_reader_looping_during_commits_sees_one_whole_snapshot_or_the_other(
    store: PrivateStore, settings: OffloadSettings
) -> None:
    settings = settings.model_copy(update={"refresh_catalog": False})
    store.upsert(demo_rows(60))
    run_nightly(settings, DAY1)
    small = open_table(settings).num_rows
    store.upsert(demo_rows(60, start=5_000))
    stop = threading.Event()
    seen: set[int] = set()
    failures: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                rows = open_table(settings).num_rows
            except Exception as exc:  # any failure to read is what this test looks for
                failures.append(repr(exc))
                return
            seen.add(rows)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(3):
            run_nightly(settings, DAY2, force=True)
    finally:
        stop.set()
        thread.join(timeout=60)
    big = open_table(settings).num_rows
    assert failures == []
    assert seen <= {small, big}
    assert big in seen
