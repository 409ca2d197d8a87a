"""The analysts' DuckDB catalog: views over the lake with the store's columns.

``analytics.duckdb`` holds three views and no data:

* ``journeys_open``    the published nightly snapshot (a copy of the store's open journeys)
* ``journeys_closed``  the committed parts of the closed table
* ``journeys_all``     their union, with exactly the store's columns and types

A DuckDB view reads a fixed list of files, but the published snapshot changes every night, so
the catalog is **rebuilt** after each publish and each housekeeping purge (and by
``journeys catalog``). It is built in a temporary file and renamed over the old one: an analyst
with the old catalog open keeps a working view until the previous snapshot is cleaned; the
next connection sees the new views. Nothing holds a lock on the catalog while jobs run.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import duckdb
import pyarrow as pa

from journeys.schema import JOURNEY_SCHEMA, create_table_sql
from offload.closed_table import committed_files
from offload.errors import CatalogError
from offload.lake import Lake
from offload.open_table import current_snapshot_files
from offload.settings import OffloadSettings

_EMPTY_TABLE: Final = "_journeys_empty"
_HTTPFS_SCHEMES: Final = ("s3", "gs", "gcs", "http", "https")


@dataclass(frozen=True)
class CatalogInfo:
    """What :func:`build_catalog` wrote."""

    path: Path
    open_files: int
    closed_files: int


def catalog_path(settings: OffloadSettings) -> Path:
    """Where the catalog file is (a local path)."""
    return settings.catalog_path.expanduser().resolve()


def _columns() -> str:
    # Parquet has no JSON type; cast back so the views carry exactly the store's types.
    return ", ".join(
        "attributes::JSON AS attributes" if name == "attributes" else name
        for name in JOURNEY_SCHEMA.names
    )


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _view_sql(name: str, files: list[str]) -> str:
    if not files:
        return f"CREATE VIEW {name} AS SELECT * FROM {_EMPTY_TABLE}"  # noqa: S608 (our view names)
    listed = ", ".join(_quote(path) for path in files)  # paths as quoted SQL literals
    return f"CREATE VIEW {name} AS SELECT {_columns()} FROM read_parquet([{listed}])"  # noqa: S608


def build_catalog(settings: OffloadSettings, lake: Lake | None = None) -> CatalogInfo:
    """Write the catalog with views over the current lake state (atomic replace)."""
    lake = lake or Lake(settings.lake_uri)
    open_files = [lake.engine_uri(path) for path in current_snapshot_files(lake)]
    closed_files = [lake.engine_uri(path) for path in committed_files(lake)]
    target = catalog_path(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:12]}")
    try:
        con = duckdb.connect(str(tmp))
        try:
            if lake.scheme in _HTTPFS_SCHEMES:
                con.execute("LOAD httpfs")
            elif not lake.is_local:
                raise CatalogError(f"DuckDB cannot read {lake.scheme}:// lakes; use local/s3/gs")
            con.execute(create_table_sql(_EMPTY_TABLE))
            con.execute(_view_sql("journeys_open", open_files))
            con.execute(_view_sql("journeys_closed", closed_files))
            con.execute(
                "CREATE VIEW journeys_all AS "
                "SELECT * FROM journeys_open UNION ALL SELECT * FROM journeys_closed"
            )
            con.execute(f"COMMENT ON VIEW journeys_open IS {_quote(f'lake {lake.uri}')}")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, target)
    except duckdb.Error as exc:
        raise CatalogError(f"cannot build the catalog {target}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    return CatalogInfo(target, len(open_files), len(closed_files))


def refresh_catalog_if_enabled(settings: OffloadSettings, lake: Lake) -> None:
    """Rebuild the catalog after the lake changed, when the settings ask for it."""
    if settings.refresh_catalog:
        build_catalog(settings, lake)


def run_query(path: Path, sql: str) -> pa.Table:
    """Run ``sql`` against the catalog at ``path`` (read-only) and return the result."""
    if not path.exists():
        raise CatalogError(f"no catalog at {path}; run `journeys catalog` first")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise CatalogError(f"cannot open the catalog {path}: {exc}") from exc
    try:
        relation = con.sql(sql)
        return relation.to_arrow_table() if relation is not None else pa.table({})
    except duckdb.Error as exc:
        raise CatalogError(str(exc).splitlines()[0]) from exc
    finally:
        con.close()
