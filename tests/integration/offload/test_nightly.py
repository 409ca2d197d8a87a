"""The nightly snapshot against a real store server."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from journeys.schema import JOURNEY_SCHEMA
from offload import (
    AuditFailed,
    Lake,
    NotPublished,
    OffloadSettings,
    audit_open_snapshot,
    clean_open_snapshots,
    publish_open_snapshot,
    read_pointer,
    run_nightly,
    snapshot_files,
    write_open_snapshot,
)
from offload.open_table import SNAPSHOTS
from tests.support.offload_lake import by_key, demo_rows, open_table, read_files
from tests.support.offload_store import PrivateStore

pytestmark = pytest.mark.integration

DAY1 = date(2026, 11, 20)
DAY2 = date(2026, 11, 21)


def _open_rows(store: PrivateStore) -> dict[tuple[str, str], dict[str, object]]:
    rows = store.rows()
    return by_key(rows.filter(pc.equal(rows["status"], "open")))


def _snapshot_dirs(lake: Lake) -> list[str]:
    return lake.list_dir(lake.path(SNAPSHOTS), dirs=True)


def test_nightly_snapshot_holds_exactly_the_open_rows_of_the_store(
    store: PrivateStore, settings: OffloadSettings, lake: Lake
) -> None:
    store.upsert(demo_rows(200))
    summary = run_nightly(settings, DAY1)

    published = open_table(lake)
    assert published.schema.equals(JOURNEY_SCHEMA, check_metadata=True)
    assert by_key(published) == _open_rows(store)
    assert summary.rows == published.num_rows > 0
    pointer = read_pointer(lake)
    assert pointer is not None
    assert pointer["path"].startswith(f"{SNAPSHOTS}/{DAY1.isoformat()}-")
    for name in pointer["files"]:
        metadata = pq.read_metadata(lake.path(pointer["path"], name))
        for group in range(metadata.num_row_groups):
            assert metadata.row_group(group).column(0).compression == "ZSTD"
    assert settings.metrics_dir is not None
    assert (settings.metrics_dir / "journeys_offload_nightly.prom").exists()


def test_rerunning_nightly_for_the_same_date_is_idempotent(
    store: PrivateStore, settings: OffloadSettings, lake: Lake
) -> None:
    store.upsert(demo_rows(50))
    run_nightly(settings, DAY1)
    first_pointer = read_pointer(lake)
    first_rows = by_key(open_table(lake))

    second = run_nightly(settings, DAY1)

    assert second.details["already_published"] is True
    assert read_pointer(lake) == first_pointer
    assert by_key(open_table(lake)) == first_rows
    assert len(_snapshot_dirs(lake)) == 1


def test_next_night_replaces_the_snapshot_and_deletes_the_previous_one(
    store: PrivateStore, settings: OffloadSettings, lake: Lake
) -> None:
    store.upsert(demo_rows(50))
    run_nightly(settings, DAY1)
    store.upsert(demo_rows(30, start=1_000))
    run_nightly(settings, DAY2)

    assert by_key(open_table(lake)) == _open_rows(store)
    (only,) = _snapshot_dirs(lake)
    assert only.startswith(DAY2.isoformat())


def test_previous_snapshot_is_deleted_only_after_publish(
    store: PrivateStore, settings: OffloadSettings, lake: Lake
) -> None:
    store.upsert(demo_rows(40))
    run_nightly(settings, DAY1)
    old = read_pointer(lake)
    assert old is not None
    new = write_open_snapshot(settings, DAY2).path
    audit_open_snapshot(settings, new)

    with pytest.raises(NotPublished):
        clean_open_snapshots(settings, new)
    assert sorted(_snapshot_dirs(lake)) == sorted([old["path"].split("/")[-1], new.split("/")[-1]])
    assert read_pointer(lake) == old

    publish_open_snapshot(settings, new)
    assert len(_snapshot_dirs(lake)) == 2  # publishing deletes nothing
    clean_open_snapshots(settings, new)
    assert _snapshot_dirs(lake) == [new.split("/")[-1]]


def test_an_unaudited_or_tampered_snapshot_is_never_published(
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
    assert read_pointer(lake) is None


def test_pointer_switch_is_atomic_for_a_reader_looping_during_publish(
    store: PrivateStore, tmp_path: Path, settings: OffloadSettings, lake: Lake
) -> None:
    settings = settings.model_copy(update={"refresh_catalog": False})
    store.upsert(demo_rows(60))
    first = write_open_snapshot(settings, DAY1).path
    audit_open_snapshot(settings, first)
    store.upsert(demo_rows(60, start=5_000))
    second = write_open_snapshot(settings, DAY2).path
    audit_open_snapshot(settings, second)
    publish_open_snapshot(settings, first)
    sizes = {
        first: open_table(lake).num_rows,
    }
    publish_open_snapshot(settings, second)
    sizes[second] = open_table(lake).num_rows
    assert sizes[first] < sizes[second]

    stop = threading.Event()
    seen: dict[str, int] = {}
    failures: list[str] = []

    def reader() -> None:
        reader_lake = Lake(settings.lake_uri)
        while not stop.is_set():
            try:
                pointer = read_pointer(reader_lake)
                assert pointer is not None
                rows = read_files(reader_lake, snapshot_files(reader_lake, pointer)).num_rows
            except Exception as exc:  # any failure to read is what this test looks for
                failures.append(repr(exc))
                return
            if rows != sizes[pointer["path"]]:
                failures.append(
                    f"{pointer['path']}: {rows} rows, expected {sizes[pointer['path']]}"
                )
            seen[pointer["path"]] = seen.get(pointer["path"], 0) + 1

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(100):
            publish_open_snapshot(settings, first)
            publish_open_snapshot(settings, second)
            if not thread.is_alive():
                break
    finally:
        stop.set()
        thread.join(timeout=30)
    assert failures == []
    assert set(seen) == {first, second}  # the reader really read across switches
