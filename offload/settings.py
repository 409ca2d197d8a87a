"""Settings of the offload jobs (one object per process, from ``JOURNEYS_OFFLOAD_*``).

:class:`LakeSettings` is what reading the lake needs (the analysts' commands);
:class:`OffloadSettings` adds the store and the Parquet writer (the jobs).

The store connection is nested: ``JOURNEYS_OFFLOAD_STORE__URL`` and
``JOURNEYS_OFFLOAD_STORE__TOKEN`` (the offloader role's token).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from store import StoreClientSettings

Compression = Literal["zstd", "snappy", "lz4", "gzip", "none"]


_CONFIG = SettingsConfigDict(
    env_prefix="JOURNEYS_OFFLOAD_",
    env_nested_delimiter="__",
    extra="ignore",
    hide_input_in_errors=True,  # the store token must not be echoed into logs
)


class LakeSettings(BaseSettings):
    """What reading the lake needs: where it is, its Iceberg catalog, the DuckDB catalog.

    No store settings: ``journeys sql`` and ``journeys catalog`` read the lake only (an analyst
    never holds a store token). The jobs' :class:`OffloadSettings` extends it.
    """

    model_config = _CONFIG

    #: A local directory, or any URI ``pyarrow.fs.FileSystem.from_uri`` accepts
    #: (``s3://bucket/lake``, ``gs://…``, ``hdfs://…``, ``file:///…``).
    lake_uri: str = "./lake"
    #: The analysts' DuckDB catalog: a local file, by default next to the lake.
    catalog_path: Path = Path("./analytics.duckdb")
    #: pyiceberg catalog properties as JSON (``{"type": "rest", "uri": "https://…"}``, Glue,
    #: Hive, SQL). Empty: a SQL catalog on SQLite in ``<lake>/iceberg_catalog.sqlite``.
    iceberg_catalog: dict[str, str] = Field(default_factory=dict)
    #: The catalog's name (pyiceberg's ``load_catalog`` name) and the tables' namespace.
    iceberg_catalog_name: str = "journeys"
    iceberg_namespace: str = "journeys"
    #: Table snapshots older than this expire after each run, except the one current at the
    #: start of this window (time travel answers anywhere in it).
    snapshot_retention_days: float = Field(default=7.0, ge=0)

    @field_validator("lake_uri")
    @classmethod
    def _lake_uri_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("lake_uri must not be empty")
        return value.strip()


class OffloadSettings(LakeSettings):
    """The lake's settings, plus how to reach the store and how to write Parquet."""

    #: Rebuild the catalog after publish and after housekeeping, so its views follow the lake.
    refresh_catalog: bool = True
    #: Directory for Prometheus textfile-collector files (``journeys_offload_<job>.prom``);
    #: empty to disable.
    metrics_dir: Path | None = Path("./metrics")
    store: StoreClientSettings
    row_group_size: int = Field(default=1_000_000, ge=1_000)
    compression: Compression = "zstd"
    compression_level: int | None = Field(default=1, ge=-7, le=22)
    #: Parquet files written in parallel by the nightly snapshot (one writer thread each).
    writer_threads: int = Field(default=2, ge=1, le=32)


def settings_with_overrides(
    *,
    store_host: str | None = None,
    store_port: int | None = None,
    store_token: str | None = None,
    store_extra: dict[str, Any] | None = None,
    lake_uri: str | None = None,
    store_conn_type: str | None = None,
    store_login: str | None = None,
    store_database: str | None = None,
) -> OffloadSettings:
    """Settings from ``JOURNEYS_OFFLOAD_*`` with a scheduler's values on top.

    The DAGs pass Airflow's connection ``journeys_store`` (host, port, password = offloader
    token, extra ``{"tls": true, "timeout_s": 30, "tls_root_cert": "/ca.pem"}``, for PostgreSQL
    ``{"sslmode": "verify-full"}``) and variable
    ``journeys_lake_uri``; anything None comes from the environment. A connection of type
    ``postgres`` names a PostgreSQL store (login = the offloader role, schema = the database).
    """
    overrides: dict[str, Any] = {}
    if store_host is not None:
        extra = store_extra or {}
        store: dict[str, Any] = {
            "url": _store_url(
                store_conn_type,
                store_host,
                store_port,
                store_login,
                store_database,
                tls=bool(extra.get("tls")),
                sslmode=extra.get("sslmode"),
            ),
            "token": store_token or "",
        }
        for key in ("timeout_s", "tls_root_cert", "allow_plaintext"):
            if key in extra:
                store[key] = extra[key]
        overrides["store"] = store
    if lake_uri:
        overrides["lake_uri"] = lake_uri
    return OffloadSettings(**overrides)


def _store_url(
    conn_type: str | None,
    host: str,
    port: int | None,
    login: str | None,
    database: str | None,
    *,
    tls: bool,
    sslmode: str | None = None,
) -> str:
    """The store URL of an Airflow connection: Flight by default, PostgreSQL by type (with
    the connection extra's ``sslmode``, as Airflow's own PostgreSQL hook reads it)."""
    if conn_type in ("postgres", "postgresql"):
        user = f"{login}@" if login else ""
        query = f"?sslmode={quote(sslmode)}" if sslmode else ""
        return f"postgresql://{user}{host}:{port or 5432}/{database or 'journeys'}{query}"
    scheme = "grpc+tls" if tls else "grpc"
    return f"{scheme}://{host}:{port or 8815}"
