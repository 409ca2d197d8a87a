"""A filesystem that fails in the middle of a write, at every write of a run, on two lakes.

For each job, the run is repeated with the 1st, 2nd, 3rd … file it writes failing half-way
(data files, state files and the Iceberg metadata all go through the faulty filesystem), until
a run completes without reaching the armed write, so every write of the run was failed once.
After each failed run, a rerun with a healthy filesystem must restore the invariant:
``journeys_open`` equals the store's open rows; every journey is in exactly one of {store,
``journeys_closed``}, never lost, never twice.

Two lakes: the local disk (``file://``, files under a temporary name then renamed, fsynced) and
an in-memory object store (pyarrow's mock filesystem with object-store semantics: an upload
that fails leaves no object), both served through ``offload.register_filesystem``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.fs as pafs
import pytest

from offload import OffloadSettings, register_filesystem, run_housekeeping, run_nightly
from offload.lake import unregister_filesystem
from tests.support.faulty_fs import FaultyHandler
from tests.support.offload_lake import (
    assert_invariant,
    by_key,
    closed_table,
    demo_rows,
    offload_settings,
    open_table,
)
from tests.support.offload_store import PrivateStore

pytestmark = pytest.mark.integration

RUN_DATE = date(2026, 11, 21)
MAX_WRITES = 80  # a run writes far fewer files; the loop stops when a run passes unharmed


@dataclass
class FaultyLake:
    """Settings for a lake on the faulty filesystem, and the switch that arms it."""

    settings: OffloadSettings
    handler: FaultyHandler


@pytest.fixture(params=["local-disk", "object-store"])
def faulty_lake(
    request: pytest.FixtureRequest, tmp_path: Path, store: PrivateStore
) -> Iterator[FaultyLake]:
    """The store's offload settings with the lake on a fault-injecting filesystem."""
    object_store = request.param == "object-store"
    base = pafs._MockFileSystem() if object_store else pafs.LocalFileSystem()
    handler = FaultyHandler(base, object_store=object_store)
    scheme = "faultymem" if object_store else "file"
    register_filesystem(scheme, pafs.PyFileSystem(handler))
    settings = offload_settings(tmp_path, url=store.url, token=store.tokens["offloader"])
    # No time travel needed here: a short history keeps each round's commits cheap.
    settings = settings.model_copy(update={"snapshot_retention_days": 0})
    if object_store:
        catalog = {"type": "sql", "uri": f"sqlite:///{tmp_path / 'iceberg_catalog.sqlite'}"}
        settings = settings.model_copy(
            update={
                "lake_uri": "faultymem://bucket/lake",
                "iceberg_catalog": catalog,
                "refresh_catalog": False,  # DuckDB reads local/s3/gs files, not this mock
            }
        )
    else:
        settings = settings.model_copy(update={"lake_uri": f"file://{tmp_path / 'lake'}"})
    try:
        yield FaultyLake(settings, handler)
    finally:
        unregister_filesystem(scheme)


def _failed_run(lake: FaultyLake, fail_at: int, job: Callable[[], object]) -> bool:
    """Run ``job`` with the ``fail_at``-th write failing; True if the fault was hit."""
    lake.handler.opened, lake.handler.fail_at = 0, fail_at
    faults = lake.handler.faults
    error: Exception | None = None
    try:
        job()
    except Exception as exc:  # any error is fine here: the rerun must repair it
        error = exc
    finally:
        lake.handler.fail_at = None
    hit = lake.handler.faults > faults
    if error is not None and not hit:
        raise AssertionError("the run failed without an injected fault") from error
    return hit


def test_nightly_survives_a_failed_write_at_every_write(
    faulty_lake: FaultyLake, store: PrivateStore
) -> None:
    settings = faulty_lake.settings
    store.upsert(demo_rows(30))
    for fail_at in range(1, MAX_WRITES):
        run_id = f"fault-{fail_at}"
        store.upsert(demo_rows(2, start=1_000 + fail_at))  # each run has new content
        hit = _failed_run(
            faulty_lake, fail_at, partial(run_nightly, settings, RUN_DATE, run_id=run_id)
        )
        run_nightly(settings, RUN_DATE, run_id=run_id)  # the rerun, filesystem healthy
        rows = store.rows()
        assert by_key(open_table(settings)) == by_key(rows.filter(pc.equal(rows["status"], "open")))
        if not hit:
            print(f"{fail_at - 1} writes failed in turn")
            break
    else:
        pytest.fail(f"a nightly run wrote more than {MAX_WRITES} files")
    assert fail_at > 8  # data, state and Iceberg metadata files were all failed in turn


def test_housekeeping_keeps_the_invariant_after_a_failed_write_at_every_write(
    faulty_lake: FaultyLake, store: PrivateStore
) -> None:
    settings = faulty_lake.settings
    expected = by_key(store.upsert(demo_rows(20)))
    for fail_at in range(1, MAX_WRITES):
        # New journeys each round, so every round has closed rows to move.
        expected |= by_key(store.upsert(demo_rows(8, start=1_000 + 10 * fail_at)))
        hit = _failed_run(faulty_lake, fail_at, partial(run_housekeeping, settings, RUN_DATE))
        run_housekeeping(settings, RUN_DATE)  # the rerun, filesystem healthy
        store_rows = store.rows()
        assert_invariant(store_rows, closed_table(settings), expected)
        assert pc.sum(pc.equal(store_rows["status"], "closed")).as_py() in (0, None)
        if not hit:
            print(f"{fail_at - 1} writes failed in turn")
            break
    else:
        pytest.fail(f"a housekeeping run wrote more than {MAX_WRITES} files")
    assert fail_at > 8
