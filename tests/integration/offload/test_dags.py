"""The Airflow DAGs: they import cleanly and really run against a real store and Iceberg tables."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pyarrow.compute as pc
import pytest

from journeys.schema import JOURNEY_SCHEMA
from offload import CLOSED_TABLE, CURRENT_TABLE, Lake, LakeTables, OffloadSettings
from offload.iceberg_tables import RUN_ID
from tests.support.airflow_fixtures import DAGS_FOLDER, AirflowHome
from tests.support.offload_lake import (
    assert_invariant,
    by_key,
    closed_table,
    demo_rows,
    offload_settings,
    open_table,
)
from tests.support.offload_store import PrivateStore
from tests.support.postgres_fixtures import create_store_database, make_pg_tokens, running_cluster

pytestmark = [pytest.mark.integration, pytest.mark.airflow]

_DAGBAG = textwrap.dedent(
    """
    import json, sys
    from airflow.dag_processing.dagbag import DagBag
    # Airflow 3.3 dropped DagBag(include_examples=...): AIRFLOW__CORE__LOAD_EXAMPLES=False
    bag = DagBag(dag_folder=sys.argv[1])
    errors = {path: str(error) for path, error in bag.import_errors.items()}
    dags = {
        dag_id: {
            "schedule": str(dag.schedule),
            "max_active_runs": dag.max_active_runs,
            "catchup": dag.catchup,
            "tasks": [task.task_id for task in dag.topological_sort()],
            "retries": [task.retries for task in dag.tasks],
            "outlets": {t.task_id: [o.name for o in t.outlets] for t in dag.tasks if t.outlets},
            "doc_md": bool(dag.doc_md),
        }
        for dag_id, dag in bag.dags.items()
    }
    print("DAGBAG " + json.dumps({"errors": errors, "dags": dags}))
    """
)


def test_every_dag_file_imports_without_errors(airflow_home: AirflowHome) -> None:
    result = airflow_home.python(_DAGBAG, str(DAGS_FOLDER))
    line = [x for x in result.stdout.splitlines() if x.startswith("DAGBAG ")]
    assert line, result.stdout + result.stderr
    bag = json.loads(line[0].removeprefix("DAGBAG "))
    assert bag["errors"] == {}
    assert set(bag["dags"]) == {"journeys_nightly_offload", "journeys_weekend_housekeeping"}
    nightly = bag["dags"]["journeys_nightly_offload"]
    weekend = bag["dags"]["journeys_weekend_housekeeping"]
    assert nightly["tasks"] == ["write", "audit", "publish", "clean"]
    assert weekend["tasks"] == ["write", "audit", "commit", "purge", "refresh"]
    assert nightly["outlets"] == {"publish": ["journeys_current", "journeys_open"]}
    assert weekend["outlets"] == {"commit": ["journeys_closed"], "refresh": ["journeys_current"]}
    for dag in (nightly, weekend):
        assert dag["max_active_runs"] == 1
        assert dag["catchup"] is False
        assert dag["doc_md"]
        assert min(dag["retries"]) >= 1
    assert "0 2 * * *" in nightly["schedule"]
    assert "0 3 * * 6" in weekend["schedule"]


def test_nightly_dag_runs_and_publishes_the_open_rows(
    airflow_home: AirflowHome,
    store: PrivateStore,
    settings: OffloadSettings,
    lake: Lake,
    offload_env: dict[str, str],
) -> None:
    store.upsert(demo_rows(120))
    result = airflow_home.airflow(
        "dags", "test", "journeys_nightly_offload", "2026-11-21", env=offload_env
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

    published = open_table(settings)
    rows = store.rows()
    assert published.schema.equals(JOURNEY_SCHEMA)
    assert by_key(published) == by_key(rows.filter(pc.equal(rows["status"], "open")))
    snapshot = LakeTables(settings).table(CURRENT_TABLE).current_snapshot()
    assert snapshot is not None
    assert snapshot.summary is not None
    assert snapshot.summary.additional_properties[RUN_ID].startswith("nightly-manual__")
    assert (
        LakeTables(settings)
        .file_paths(CURRENT_TABLE)[0]
        .startswith(lake.path(CURRENT_TABLE, "data", "2026-11-21-"))
    )


def test_weekend_dag_runs_with_airflow_connection_and_moves_closed_rows(
    airflow_home: AirflowHome,
    store: PrivateStore,
    settings: OffloadSettings,
    lake: Lake,
) -> None:
    before = store.upsert(demo_rows(120))
    host, port = store.url.removeprefix("grpc://").split(":")
    connection = {
        "conn_type": "generic",
        "host": host,
        "port": int(port),
        "password": store.tokens["offloader"],
    }
    env = {  # only Airflow's connection and variable: no JOURNEYS_OFFLOAD_STORE__* here
        "AIRFLOW_CONN_JOURNEYS_STORE": json.dumps(connection),
        "AIRFLOW_VAR_JOURNEYS_LAKE_URI": settings.lake_uri,
        "JOURNEYS_OFFLOAD_CATALOG_PATH": str(settings.catalog_path),
        "JOURNEYS_OFFLOAD_METRICS_DIR": str(settings.metrics_dir),
    }
    result = airflow_home.airflow(
        "dags", "test", "journeys_weekend_housekeeping", "2026-11-21", env=env
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

    closed = closed_table(settings)
    assert closed.schema.equals(JOURNEY_SCHEMA)
    assert by_key(closed) == by_key(before.filter(pc.equal(before["status"], "closed")))
    snapshot = LakeTables(settings).table(CLOSED_TABLE).current_snapshot()
    assert snapshot is not None
    assert snapshot.summary is not None
    assert snapshot.summary.additional_properties[RUN_ID].startswith("housekeeping-manual__")
    assert_invariant(store.rows(), closed, by_key(before))


def test_both_dags_run_against_a_postgresql_store_by_a_postgres_connection(
    airflow_home: AirflowHome, tmp_path: Path
) -> None:
    with running_cluster() as cluster:
        tokens = make_pg_tokens(cluster)
        pg = create_store_database(cluster, tokens)
        settings = offload_settings(
            tmp_path, url=pg.url_for("offloader"), token=tokens["offloader"]
        )
        with pg.client("writer") as writer:
            writer.upsert(demo_rows(80))
        with pg.client("offloader") as reader:
            before = reader.scan(status="all").read_all().cast(JOURNEY_SCHEMA)
        connection = {  # as an operator sets it: type postgres, the offloader role, the database
            "conn_type": "postgres",
            "host": "127.0.0.1",
            "port": cluster.port,
            "login": "journeys_offloader",
            "schema": pg.dbname,
            "password": tokens["offloader"],
        }
        env = {
            "AIRFLOW_CONN_JOURNEYS_STORE": json.dumps(connection),
            "AIRFLOW_VAR_JOURNEYS_LAKE_URI": settings.lake_uri,
            "JOURNEYS_OFFLOAD_CATALOG_PATH": str(settings.catalog_path),
            "JOURNEYS_OFFLOAD_METRICS_DIR": str(settings.metrics_dir),
        }
        for dag_id in ("journeys_nightly_offload", "journeys_weekend_housekeeping"):
            result = airflow_home.airflow("dags", "test", dag_id, "2026-11-21", env=env)
            assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
        with pg.client("offloader") as reader:
            after = reader.scan(status="all").read_all().cast(JOURNEY_SCHEMA)

    open_rows = before.filter(pc.equal(before["status"], "open"))
    assert by_key(open_table(settings)) == by_key(open_rows)
    assert_invariant(after, closed_table(settings), by_key(before))
    assert after.num_rows == open_rows.num_rows  # the closed rows left the store
