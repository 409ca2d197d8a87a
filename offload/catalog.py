"""The analysts' DuckDB catalog: views over the Iceberg tables' current data files.

``analytics.duckdb`` holds four views and no data:

* ``journeys_current`` the current snapshot of the Iceberg table ``journeys_current`` (every
  journey still in the store, open or closed, at the last run's store snapshot)
* ``journeys_closed``  the current snapshot of the Iceberg table ``journeys_closed`` (the
  journeys housekeeping moved out of the store)
* ``journeys_all``     their union (disjoint after every completed run), with exactly the
  store's columns and types
* ``journeys_open``    ``journeys_current`` where ``status = 'open'``

Plain DuckDB reads the tables without its iceberg extension: pyiceberg plans the current
snapshot, and each view reads exactly its data files with ``read_parquet`` (the tables never
use delete files, so the data files are the whole content). A view reads a fixed list of files,
so the catalog is **rebuilt** after each commit (and by ``journeys catalog``).
:func:`query_as_of` builds the same views, in memory, over the snapshots current at a past
time (``journeys sql --as-of``).

The catalog is built in a temporary file and renamed over the old one: an analyst with the old
catalog open keeps working views until the files it reads are cleaned; the next connection
sees the new views. Nothing holds a lock on the catalog while jobs run.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

import duckdb
import pyarrow as pa

from journeys.schema import JOURNEY_SCHEMA, create_table_sql
from offload.errors import AsOfTooOld, CatalogError
from offload.iceberg_tables import CLOSED_TABLE, CURRENT_TABLE, OPEN_TABLE, LakeTables
from offload.lake import Lake
from offload.settings import LakeSettings, OffloadSettings

_EMPTY_TABLE: Final = "_journeys_empty"
_HTTPFS_SCHEMES: Final = ("s3", "gs", "gcs", "http", "https")


@dataclass(frozen=True)
class CatalogInfo:
    """What :func:`build_catalog` wrote."""

    path: Path
    current_files: int
    closed_files: int


def catalog_path(settings: LakeSettings) -> Path:
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


def _create_views(con: duckdb.DuckDBPyConnection, lake: Lake, files: dict[str, list[str]]) -> None:
    if lake.scheme in _HTTPFS_SCHEMES:
        con.execute("LOAD httpfs")
    elif not lake.is_local:
        raise CatalogError(f"DuckDB cannot read {lake.scheme}:// lakes; use local/s3/gs")
    con.execute(create_table_sql(_EMPTY_TABLE))
    for name in (CURRENT_TABLE, CLOSED_TABLE):
        con.execute(_view_sql(name, [lake.engine_uri(path) for path in files[name]]))
    con.execute(
        f"CREATE VIEW {OPEN_TABLE} AS "  # noqa: S608 (our names)
        f"SELECT * FROM {CURRENT_TABLE} WHERE status = 'open'"
    )
    con.execute(
        "CREATE VIEW journeys_all AS "  # noqa: S608 (our names)
        f"SELECT * FROM {CURRENT_TABLE} UNION ALL SELECT * FROM {CLOSED_TABLE}"
    )


def build_catalog(
    settings: LakeSettings,
    lake: Lake | None = None,
    tables: LakeTables | None = None,
    *,
    create: bool = True,
) -> CatalogInfo:
    """Write the catalog with views over the tables' current snapshots (atomic replace).

    ``create=False`` (``journeys catalog``) needs the lake to exist: nothing is created in it.
    """
    tables = tables or LakeTables(settings, lake, create=create)
    lake = tables.lake
    files = {name: tables.file_paths(name) for name in (CURRENT_TABLE, CLOSED_TABLE)}
    target = catalog_path(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:12]}")
    try:
        con = duckdb.connect(str(tmp))
        try:
            _create_views(con, lake, files)
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
    return CatalogInfo(target, len(files[CURRENT_TABLE]), len(files[CLOSED_TABLE]))


def refresh_catalog_if_enabled(
    settings: OffloadSettings, lake: Lake, tables: LakeTables | None = None
) -> None:
    """Rebuild the catalog after the tables changed, when the settings ask for it."""
    if settings.refresh_catalog:
        build_catalog(settings, lake, tables)


def query_as_of(settings: LakeSettings, sql: str, when: datetime | None) -> pa.Table:
    """Run ``sql`` over views of the snapshots that were current at ``when`` (None: now).

    A time before the oldest snapshot some table still keeps raises :class:`AsOfTooOld`
    naming the oldest time available: an expired snapshot is not an empty table.
    """
    tables = LakeTables(settings, create=False)
    if when is not None:
        kept = [tables.oldest_time_kept(name) for name in (CURRENT_TABLE, CLOSED_TABLE)]
        oldest = max((time for time in kept if time is not None), default=None)
        if oldest is not None and when < oldest:
            raise AsOfTooOld(
                f"--as-of {when.isoformat()} is before the oldest snapshot kept; the oldest "
                f"time available is {oldest.isoformat()}"
            )
    files = {}
    for name in (CURRENT_TABLE, CLOSED_TABLE):
        if when is None:
            files[name] = tables.file_paths(name)
            continue
        snapshot_id = tables.snapshot_as_of(name, when)
        files[name] = tables.file_paths(name, snapshot_id) if snapshot_id is not None else []
    return _run_over_views(tables.lake, files, sql)


def _run_over_views(lake: Lake, files: dict[str, list[str]], sql: str) -> pa.Table:
    con = duckdb.connect()
    try:
        _create_views(con, lake, files)
        relation = con.sql(sql)
        return relation.to_arrow_table() if relation is not None else pa.table({})
    except duckdb.Error as exc:
        raise CatalogError(str(exc).splitlines()[0]) from exc
    finally:
        con.close()


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
