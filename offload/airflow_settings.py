"""Offload settings as the Airflow DAGs see them: an Airflow connection and variable first.

Connection ``journeys_store`` (host, port, password = offloader token, extra ``{"tls": true}``;
type ``postgres`` with login and schema for a PostgreSQL store)
and variable ``journeys_lake_uri`` win over the ``JOURNEYS_OFFLOAD_*`` environment. Airflow is
imported inside the function: ``offload`` itself runs without Airflow, and the DAG
files call this only inside tasks (reading connections and variables is I/O, never at parse
time).
"""

from __future__ import annotations

from offload.settings import OffloadSettings, settings_with_overrides


def settings_from_airflow() -> OffloadSettings:
    """The offload settings for a task: Airflow connection and variable over the env."""
    from airflow.sdk import Connection, Variable
    from airflow.sdk.exceptions import AirflowNotFoundException

    lake_uri = Variable.get("journeys_lake_uri", default=None)
    try:
        conn = Connection.get("journeys_store")
    except AirflowNotFoundException:
        return settings_with_overrides(lake_uri=lake_uri)
    return settings_with_overrides(
        store_host=conn.host,
        store_port=conn.port,
        store_token=conn.password,
        store_extra=conn.extra_dejson,
        lake_uri=lake_uri,
        store_conn_type=conn.conn_type,
        store_login=conn.login,
        store_database=conn.schema,
    )
