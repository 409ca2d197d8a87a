"""The nightly offload DAG: the whole store, as of one snapshot, into Iceberg journeys_current."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, dag, get_current_context, task

from offload import (
    audit_open_snapshot,
    clean_open_snapshots,
    publish_open_snapshot,
    write_open_snapshot,
)
from offload.airflow_settings import settings_from_airflow  # I/O: in tasks only

CURRENT_TABLE = Asset(name="journeys_current")
#: The asset this DAG emitted before ``journeys_current`` (when it published only the open
#: journeys): still emitted, so analysts' DAGs scheduled on it keep running.
OPEN_SNAPSHOT = Asset(name="journeys_open")


@dag(
    dag_id="journeys_nightly_offload",
    schedule="0 2 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["journeys", "offload"],
)
def journeys_nightly_offload() -> None:
    """
    ### Journeys: nightly snapshot of the whole store

    Every night at 02:00 UTC every journey of the store (open, and closed but not yet moved by
    housekeeping) is copied, as of one consistent snapshot, into the Apache Iceberg table
    `journeys.journeys_current` (analysts' view `journeys_open` = its open rows):

    1. **write** — scan the whole table at one store snapshot, write Parquet data files (zstd)
       into `journeys_current/data/<date>-<id>/` with a manifest;
    2. **audit** — row count equals the store's count at that snapshot, schema equals the
       store's, primary key unique;
    3. **publish** — one Iceberg commit replaces the table's whole content by these files
       (the summary holds this DAG run's id and the store snapshot point, so a retry never
       commits twice); a journey the store holds again after it was moved (re-sent) leaves
       `journeys_closed` by a second commit, so the tables stay disjoint; then the analysts'
       DuckDB catalog is rebuilt; emits an event of the assets `journeys_current` (as
       weekend housekeeping's refresh does) and `journeys_open` (its older name);
    4. **clean** — expire table snapshots older than the retention (7 days) and delete the
       data files no live snapshot reads.

    Tasks pass the run's path by XCom and call `offload`; every task may be retried. Settings:
    connection `journeys_store` (password = offloader token), variable `journeys_lake_uri`,
    else `JOURNEYS_OFFLOAD_*`.
    Schedule analysts' DAGs on `Asset("journeys_current")` to run on fresh data.
    """

    @task
    def write() -> str:
        """Scan the whole store and write a new snapshot; returns its path in the lake."""
        context = get_current_context()
        when = context.get("logical_date") or context["dag_run"].run_after
        run_id = f"nightly-{context['dag_run'].run_id}"
        return write_open_snapshot(settings_from_airflow(), when.date(), run_id=run_id).path

    @task
    def audit(path: str) -> str:
        """Check the snapshot against the store's row count and schema, and its key."""
        return audit_open_snapshot(settings_from_airflow(), path)

    @task(outlets=[CURRENT_TABLE, OPEN_SNAPSHOT])
    def publish(path: str) -> str:
        """Commit the files as the whole content of journeys_current (once per DAG run)."""
        published = publish_open_snapshot(settings_from_airflow(), path)
        events = get_current_context()["outlet_events"]
        for asset in (CURRENT_TABLE, OPEN_SNAPSHOT):
            events[asset].extra = {"snapshot": published}
        return published

    @task
    def clean(path: str) -> list[str]:
        """Expire old table snapshots and delete the data files none of them reads."""
        return clean_open_snapshots(settings_from_airflow(), path)

    # TaskFlow calls return XComArgs, resolved to the return values at run time.
    clean(publish(audit(write())))  # type: ignore[arg-type]


journeys_nightly_offload()
