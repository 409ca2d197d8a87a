"""The store's clock floor survives a restart with the machine's clock stepped back."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc

from store.database import JourneyDatabase
from store.validation import validate_batch
from tests.support.journey_rows import journey_row, journeys_table

SECOND_US = 1_000_000
EPOCH_US = 1_750_000_000 * SECOND_US


class FakeClock:
    def __init__(self, now_us: int) -> None:
        self.now_us = now_us

    def __call__(self) -> int:
        return self.now_us


def closed_row(step: int) -> object:
    return validate_batch(journeys_table([journey_row("c-1", "j-1", status="closed", step=step)]))


def test_an_update_after_a_snapshot_point_survives_a_resumed_purge_after_the_clock_stepped_back(
    tmp_path: Path,
) -> None:
    db, clock = tmp_path / "journeys.duckdb", FakeClock(EPOCH_US)
    with JourneyDatabase(db, now_us=clock) as database:
        database.upsert(closed_row(step=1))
        clock.now_us += 10 * SECOND_US
        snapshot = database.snapshot()  # housekeeping's snapshot point S; its purge is pending
        snapshot_at = snapshot.snapshot_at_us
        assert sum(batch.num_rows for batch in snapshot.batches) == 1  # read as housekeeping does
        del snapshot
        database.purge(closed_before_us=snapshot_at, snapshot_at_us=snapshot_at, keys=None)
    # Restart with the machine's clock 5 s behind S: every row stamped before S was purged.
    clock.now_us = snapshot_at - 5 * SECOND_US
    with JourneyDatabase(db, now_us=clock) as database:
        database.upsert(closed_row(step=2))  # an update made after S
        database.purge(closed_before_us=snapshot_at, snapshot_at_us=snapshot_at, keys=None)
        found = database.lookup(["c-1"])
    assert found.num_rows == 1, "the resumed purge deleted an update made after its snapshot"
    assert found["step"].to_pylist() == [2]
    assert pc.greater(found["updated_at"].cast("int64"), snapshot_at).to_pylist() == [True]


def test_a_purge_point_ahead_of_the_clock_raises_the_floor(tmp_path: Path) -> None:
    clock = FakeClock(EPOCH_US)
    with JourneyDatabase(tmp_path / "j.duckdb", now_us=clock) as database:
        ahead = EPOCH_US + 60 * SECOND_US
        database.purge(closed_before_us=ahead, snapshot_at_us=ahead, keys=None)
        assert database.clock.tick() > ahead
