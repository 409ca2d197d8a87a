"""The weekend housekeeping DAG: closed journeys move from the store to Iceberg journeys_closed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Asset, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from offload import (
    audit_closed_part,
    commit_closed_part,
    purge_closed_part,
    refresh_current_table,
    write_closed_part,
)
from offload.airflow_settings import settings_from_airflow  # I/O: in tasks only

CLOSED_TABLE = Asset(name="journeys_closed")
CURRENT_TABLE = Asset(name="journeys_current")


@dag(
    dag_id="journeys_weekend_housekeeping",
    schedule="0 3 * * 6",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=10)},
    tags=["journeys", "offload"],
)
def journeys_weekend_housekeeping() -> None:
    """
    ### Journeys: weekend housekeeping of the closed journeys

    Every Saturday at 03:00 UTC the closed journeys leave the store for the Apache Iceberg
    table `journeys.journeys_closed` (partitioned by `month(closed_at)`):

    1. **write** — first finish an earlier run that committed but did not purge (from its
       own files, never rescanning) and discard one that never committed; then scan the
       closed rows at one store snapshot and write them, one data file per month;
    2. **audit** — row count equals the store's count at that snapshot, schema equals the
       store's, primary key unique, every row closed;
    3. **commit** — one Iceberg commit adds the files; a key already in the table (a journey
       sent again after it was offloaded) is replaced, not doubled; emits an event of the
       asset `journeys_closed`;
    4. **purge** — delete exactly those keys from the store, and only rows not updated after
       the snapshot; a journey re-opened or changed since stays in the store and leaves the
       table by a second commit. Then the analysts' catalog is rebuilt;
    5. **refresh** — publish the store as it is now as `journeys.journeys_current` (the
       nightly job's steps): the moved journeys leave it, so the two tables are disjoint
       again. Runs also when there was nothing to move; emits `journeys_current`.

    Every journey is in exactly one of {store, `journeys_closed`} once a run completes, and in
    exactly one of {`journeys_current`, `journeys_closed`}; a crash at any step and a rerun
    keep it so. Tasks pass the run's path by XCom; retries are
    safe. Settings:
    connection `journeys_store` (password = offloader token), variable `journeys_lake_uri`,
    else `JOURNEYS_OFFLOAD_*`.
    """

    @task
    def write() -> str:
        """Write the store's closed journeys as this week's next part; returns its path."""
        context = get_current_context()
        when = context.get("logical_date") or context["dag_run"].run_after
        run_id = f"housekeeping-{context['dag_run'].run_id}"
        written = write_closed_part(settings_from_airflow(), when.date(), run_id=run_id)
        if written.path is None:
            raise AirflowSkipException("no closed journeys in the store")
        return written.path

    @task
    def audit(path: str) -> str:
        """Check the part against the store's row count and schema, and its key."""
        return audit_closed_part(settings_from_airflow(), path)

    @task(outlets=[CLOSED_TABLE])
    def commit(path: str) -> str:
        """Commit the run's files to journeys_closed (a key already there is replaced)."""
        committed = commit_closed_part(settings_from_airflow(), path)
        get_current_context()["outlet_events"][CLOSED_TABLE].extra = {"run": committed}
        return committed

    @task
    def purge(path: str) -> dict[str, Any]:
        """Delete the run's rows from the store; rows it kept leave the table."""
        purged = purge_closed_part(settings_from_airflow(), path)
        return {"run": purged.path, "purged": purged.purged, "kept_in_store": purged.kept_in_store}

    @task(outlets=[CURRENT_TABLE], trigger_rule="none_failed")
    def refresh() -> str:
        """Publish the store as journeys_current, without the journeys just moved."""
        context = get_current_context()
        when = context.get("logical_date") or context["dag_run"].run_after
        written = refresh_current_table(settings_from_airflow(), when.date())
        context["outlet_events"][CURRENT_TABLE].extra = {"snapshot": written.path}
        return written.path

    # TaskFlow calls return XComArgs, resolved to the return values at run time.
    purge(commit(audit(write()))) >> refresh()  # type: ignore[arg-type]


journeys_weekend_housekeeping()
