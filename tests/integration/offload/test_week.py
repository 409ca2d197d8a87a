"""A week of the lake: every journey in ``journeys_all`` exactly once after every completed run.

Monday to Sunday against a real store (the DuckDB store server, then PostgreSQL): every day the
campaigns system upserts new journeys, changes and closes open ones, re-opens closed ones the
store still holds, and sends again a journey housekeeping already moved to ``journeys_closed``
(closed, changed; on some days re-opened). The nightly job runs every night and housekeeping on
Saturday, as the CLI and the DAGs run them (:func:`offload.run_nightly`,
:func:`offload.run_housekeeping`). One nightly run and the Saturday housekeeping run are killed
with SIGKILL in a subprocess at their most delicate point (between the commit of one table and
the commit that makes the two disjoint again) and rerun.

After every completed run: the raw Iceberg tables (read by pyiceberg, as Spark or Trino read
them) are disjoint, ``journeys_all`` (the analysts' DuckDB view) holds every journey ever sent
exactly once with its latest values, ``journeys_open`` exactly the store's open journeys, and
every journey is in exactly one of {store, ``journeys_closed``}.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from journeys.schema import JOURNEY_SCHEMA
from offload import (
    HOUSEKEEPING_CHECKPOINTS,
    NIGHTLY_CHECKPOINTS,
    OffloadSettings,
    catalog_path,
    run_housekeeping,
    run_nightly,
    run_query,
)
from offload.progress import HOUSEKEEPING_PURGED, NIGHTLY_PUBLISHED
from store import JourneyStore
from tests.support.offload_lake import (
    by_key,
    closed_table,
    current_table,
    demo_rows,
    offload_env_of,
    offload_settings,
)
from tests.support.offload_store import private_store
from tests.support.postgres_fixtures import create_store_database, make_pg_tokens, running_cluster

pytestmark = pytest.mark.integration

LAST_SATURDAY = date(2026, 11, 21)
WEEK = [LAST_SATURDAY + timedelta(days=n) for n in range(2, 9)]  # Monday 23 … Sunday 29
KILL_TIMEOUT_S = 120.0

Key = tuple[str, str]
Row = dict[str, Any]


@dataclass
class WeekStore:
    """The store under test, whatever its backend: a client per role and the offload settings."""

    client: Callable[[str], AbstractContextManager[JourneyStore]]
    settings: OffloadSettings

    def upsert(self, rows: list[Row]) -> None:
        with self.client("writer") as writer:
            writer.upsert(pa.Table.from_pylist(rows, schema=JOURNEY_SCHEMA))

    def rows(self) -> pa.Table:
        with self.client("offloader") as reader:
            return reader.scan(status="all").read_all().cast(JOURNEY_SCHEMA)


@pytest.fixture(params=["duckdb", "postgresql"])
def week_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WeekStore]:
    """A fresh store of the backend asked for, stopped when the test ends (even failing)."""
    if request.param == "duckdb":
        with private_store(tmp_path / "store") as server:
            settings = offload_settings(tmp_path, url=server.url, token=server.tokens["offloader"])
            yield WeekStore(server.client, settings)
        return
    with running_cluster() as cluster:
        pg = create_store_database(cluster, make_pg_tokens(cluster))
        settings = offload_settings(
            tmp_path, url=pg.url_for("offloader"), token=pg.tokens["offloader"]
        )
        yield WeekStore(pg.client, settings)


class Campaigns:
    """What the campaigns system sent, and so the latest version of every journey."""

    def __init__(self, store: WeekStore) -> None:
        self.store = store
        self.latest: dict[Key, Row] = {}
        self.next_customer = 1

    def send(self, rows: list[Row]) -> None:
        self.store.upsert(rows)
        for row in rows:
            self.latest[(str(row["customer_id"]), str(row["journey_id"]))] = row

    def new_journeys(self, customers: int) -> None:
        rows = demo_rows(customers, start=self.next_customer).to_pylist()
        self.next_customer += customers
        self.send(rows)

    def day(self, number: int, moved: dict[Key, Row]) -> dict[str, int]:
        """One day of changes; ``moved`` are the journeys now only in journeys_closed."""
        now = datetime.now(UTC).replace(microsecond=0)
        in_store = by_key(self.store.rows())
        opened = [row for row in in_store.values() if row["status"] == "open"]
        closed = [row for row in in_store.values() if row["status"] == "closed"]
        changes: list[Row] = []
        for row in opened[:3]:  # closures
            changes.append({**row, "status": "closed", "closed_at": now - timedelta(hours=1)})
        for row in opened[3:5]:  # edits of open journeys
            changes.append({**row, "priority": int(row["priority"]) + 1, "step": number})
        for row in closed[:1]:  # a closed journey the store still holds, re-opened
            changes.append({**row, "status": "open", "closed_at": None})
        resent = sorted(moved)[number % len(moved)] if moved else None
        if resent is not None:  # a journey already moved out, sent again
            row = dict(moved[resent])
            if number % 3 == 0:
                changes.append({**row, "status": "open", "closed_at": None, "step": number})
            else:
                changes.append({**row, "priority": int(row["priority"]) + 7, "step": number})
        self.send(changes)
        self.new_journeys(3)
        return {"changed": len(changes), "resent": int(resent is not None)}


def _without_stamp(row: Row) -> Row:
    """A row to compare: ``updated_at`` is the store's stamp, ``attributes`` JSON as values
    (PostgreSQL keeps jsonb, which normalises the text)."""
    return {**row, "updated_at": None, "attributes": json.loads(row["attributes"])}


def assert_every_journey_once(store: WeekStore, campaigns: Campaigns, when: str) -> dict[Key, Row]:
    """The checks after a completed run; returns the journeys now only in journeys_closed."""
    settings = store.settings
    in_store = store.rows()
    current, closed = current_table(settings), closed_table(settings)
    # Raw tables, as an engine reading the Iceberg catalog sees them: disjoint, and together
    # every journey once, each as its latest version.
    current_keys, closed_keys = set(by_key(current)), set(by_key(closed))
    assert not current_keys & closed_keys, f"{when}: journeys in both raw tables"
    assert current_keys | closed_keys == set(campaigns.latest), f"{when}: journeys lost/invented"
    assert current_keys == set(by_key(in_store)), f"{when}: journeys_current is not the store"
    every = {**by_key(current), **by_key(closed)}
    for key, row in every.items():
        assert _without_stamp(row) == _without_stamp(campaigns.latest[key]), f"{when}: {key}"
    # The analysts' views over the same tables.
    all_rows = run_query(catalog_path(settings), "SELECT * FROM journeys_all").cast(JOURNEY_SCHEMA)
    assert by_key(all_rows) == every, f"{when}: journeys_all differs from the tables"
    open_rows = run_query(catalog_path(settings), "SELECT * FROM journeys_open")
    store_open = in_store.filter(pc.equal(in_store["status"], "open"))
    assert set(by_key(open_rows.cast(JOURNEY_SCHEMA))) == set(by_key(store_open)), when
    # And the move's own invariant: every journey in exactly one of {store, journeys_closed}
    # (journeys_current is the store, checked above), and only closed ones moved.
    assert set(closed["status"].to_pylist()) <= {"closed"}, when
    return by_key(closed)


def _killed_run(store: WeekStore, job: str, run_date: date, crash_at: str) -> None:
    """Run ``job`` in a subprocess that SIGKILLs itself at ``crash_at``."""
    settings = store.settings
    env = {**os.environ, **offload_env_of(settings)}
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.offload_crash_runner", job, str(run_date), crash_at],
        env=env,
        capture_output=True,
        text=True,
        timeout=KILL_TIMEOUT_S,
        check=False,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert done.returncode == -9, done.stdout[-2000:] + done.stderr[-4000:]
    assert f"checkpoint {crash_at}" in done.stdout


def test_a_week_keeps_every_journey_in_journeys_all_exactly_once(week_store: WeekStore) -> None:
    assert NIGHTLY_PUBLISHED in NIGHTLY_CHECKPOINTS
    assert HOUSEKEEPING_PURGED in HOUSEKEEPING_CHECKPOINTS
    store, settings = week_store, week_store.settings
    campaigns = Campaigns(store)
    campaigns.new_journeys(30)
    run_nightly(settings, LAST_SATURDAY - timedelta(days=1))
    run_housekeeping(settings, LAST_SATURDAY)  # last week's move: journeys_closed has rows
    moved = assert_every_journey_once(store, campaigns, "last Saturday")
    assert moved
    resent_seen = 0
    for number, day in enumerate(WEEK):
        sent = campaigns.day(number, moved)
        resent_seen += sent["resent"]
        if day.weekday() == 2:  # Wednesday: killed after journeys_current's commit
            _killed_run(store, "nightly", day, NIGHTLY_PUBLISHED)
        if day.weekday() == 5:  # Saturday: killed after the purge, before the refresh
            _killed_run(store, "housekeeping", day, HOUSEKEEPING_PURGED)
            run_housekeeping(settings, day)
            moved = assert_every_journey_once(store, campaigns, f"{day} housekeeping")
        run_nightly(settings, day)
        moved = assert_every_journey_once(store, campaigns, f"{day} nightly")
    assert resent_seen == len(WEEK)
    statuses = set(current_table(settings)["status"].to_pylist())
    assert statuses == {"open", "closed"}  # Sunday: closed journeys not moved yet, in the lake
    assert os.path.exists(catalog_path(settings))
