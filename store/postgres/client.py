"""``PostgresStore``: the store's operations on a PostgreSQL database (``postgresql://`` URLs).

Same methods, results and errors as :class:`store.client.StoreClient`; the database enforces
the roles (the login role's grants, see :mod:`.schema`), the password is the store token.

Change marker and snapshots. ``updated_at`` is stamped from ``journeys_clock``: an upsert's
transaction updates its one row to ``greatest(clock_timestamp(), last + 1 µs)`` and keeps
that row lock until it commits. So stamps are strictly increasing **in commit order**, and a
transaction holding a stamp has not committed yet while a later one waits. A snapshot scan
reads ``last`` in its first statement (REPEATABLE READ pins its snapshot there): every
committed stamp is ``<= last`` and visible, every later or uncommitted one is ``> last``.
Purge deletes only keys with ``updated_at <=`` that point, so a row changed after the
snapshot survives, however the writers' clocks and commits interleave (tested with
concurrent writers).
"""

# SQL here is composed only from constants of this package and journeys.schema; every value
# is a bound parameter or Arrow data sent through binary COPY.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from types import TracebackType
from typing import Any, Final

import pyarrow as pa

from journeys import __version__
from journeys.contract import parse_status_filter
from journeys.schema import ID_MAX_LENGTH, KEY_SCHEMA, LOOKUP_ORDER, PRIMARY_KEY, TABLE_NAME
from store.client import UPSERT_BATCH_ROWS, ScanResult, StoreStats, to_micros
from store.errors import StoreInvalidRequest
from store.postgres.arrow_io import (
    content_object_sql,
    journey_batches,
    packed_select_sql,
    packed_to_table,
    rows_to_table,
    select_list_sql,
    staged_table,
    staging_columns_sql,
)
from store.postgres.bulk import BulkConnection, BulkConnections
from store.postgres.connections import Connection, Endpoints, build_conninfo
from store.postgres.errors import translated
from store.postgres.schema import CLOCK_TABLE, LOOKUP_VIEW, STATS_FUNCTION, VERSION_TABLE
from store.protocol import MAX_LOOKUP_IDS
from store.validation import BatchRejected, last_per_key, validate_batch

STAGING_TABLE: Final = "journeys_staging"
PURGE_KEYS_PER_STATEMENT: Final = 100_000
_STATUS_SQL: Final = {"all": "", "open": " AND status = 'open'", "closed": " AND status = 'closed'"}
_WHERE_STATUS: Final = {"all": "", "open": " WHERE status = 'open'",
                        "closed": " WHERE status = 'closed'"}  # fmt: skip
#: Lookups by one customer (``= %s``: the generic plan prunes to its partition at executor
#: start) and by several (``= ANY(%s)``: one primary-key probe per partition; a nested loop of
#: one probe per id over ``unnest`` measured slower at 1M rows, its per-loop executor cost
#: outweighing the probes saved). One customer's rows come back as rows, several customers'
#: packed in one row (:func:`.arrow_io.packed_select_sql`); both are sorted in Arrow
#: (LOOKUP_ORDER, byte order).
_LOOKUP_ONE_SQL: Final = {
    status: f"SELECT {select_list_sql()} FROM {LOOKUP_VIEW} WHERE customer_id = %s{condition}"
    for status, condition in _STATUS_SQL.items()
}
_LOOKUP_MANY_SQL: Final = {
    status: packed_select_sql(f"FROM {LOOKUP_VIEW} WHERE customer_id = ANY(%s){condition}")
    for status, condition in _STATUS_SQL.items()
}
_PACKED_SQL: Final = frozenset(_LOOKUP_MANY_SQL.values())
_STAGE_SQL: Final = (
    f"CREATE TEMP TABLE IF NOT EXISTS {STAGING_TABLE} ({staging_columns_sql()}) "
    f"ON COMMIT DELETE ROWS"
)
#: Taken first by every upsert and purge transaction, so their row locks are always taken in the
#: same order (this lock, then the clock row, then journeys rows): without it a purge deleting
#: rows that a concurrent upsert rewrites can deadlock with it. Upserts are serialized by the
#: clock row anyway, so this costs them nothing. Advisory locks are scoped to the database.
_WRITE_LOCK_SQL: Final = "SELECT pg_advisory_xact_lock(7404151226)"
_TICK_SQL: Final = (
    f"UPDATE {CLOCK_TABLE} SET last = greatest(clock_timestamp(), last + interval '1 microsecond')"
)
_TABLE_COLUMNS: Final = (
    "customer_id", "journey_id", "campaign", "journey_name", "step", "channel", "content",
    "status", "priority", "valid_from", "valid_to", "created_at", "updated_at", "closed_at",
    "attributes",
)  # fmt: skip
_STAGED_VALUES: Final = {
    "content": content_object_sql(),
    "updated_at": f"(SELECT last FROM {CLOCK_TABLE})",
    "attributes": "attributes::jsonb",
}
_UPSERT_SQL: Final = (
    f"INSERT INTO {TABLE_NAME} ({', '.join(_TABLE_COLUMNS)}) SELECT "
    + ", ".join(_STAGED_VALUES.get(name, name) for name in _TABLE_COLUMNS)
    + f" FROM {STAGING_TABLE} ON CONFLICT ({', '.join(PRIMARY_KEY)}) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _TABLE_COLUMNS if name not in PRIMARY_KEY)
)
_PURGE_CONDITIONS: Final = (
    "j.status = 'closed' AND j.closed_at <= %(closed_before)s AND j.updated_at <= %(snapshot)s"
)
_PURGE_ALL_SQL: Final = f"DELETE FROM {TABLE_NAME} j WHERE {_PURGE_CONDITIONS}"
_PURGE_KEYS_SQL: Final = (
    f"DELETE FROM {TABLE_NAME} j USING unnest(%(customers)s::text[], %(journeys)s::text[]) "
    f"AS k(customer_id, journey_id) WHERE j.customer_id = k.customer_id "
    f"AND j.journey_id = k.journey_id AND {_PURGE_CONDITIONS}"
)


def _check_status(status: str) -> None:
    try:
        parse_status_filter(status)
    except ValueError as exc:
        raise StoreInvalidRequest(str(exc)) from None


def _check_ids(customer_ids: Sequence[str]) -> list[str]:
    ids = list(dict.fromkeys(customer_ids))
    if not all(isinstance(i, str) for i in ids):
        raise StoreInvalidRequest("'customer_ids' must be a list of strings")
    if len(ids) > MAX_LOOKUP_IDS:
        raise StoreInvalidRequest(f"at most {MAX_LOOKUP_IDS} customer ids per lookup")
    if any(len(i) > ID_MAX_LENGTH for i in ids):
        raise StoreInvalidRequest(f"customer ids are at most {ID_MAX_LENGTH} characters")
    return ids


def lookup_query(customer_ids: Sequence[str], status: str) -> tuple[str, Any] | None:
    """The lookup statement and its one parameter; None when there is no id to look up.

    Raises :class:`StoreInvalidRequest` for a bad status or ids (checked before any I/O).
    """
    _check_status(status)
    ids = _check_ids(customer_ids)
    if not ids:
        return None
    if len(ids) == 1:
        return _LOOKUP_ONE_SQL[status], ids[0]
    return _LOOKUP_MANY_SQL[status], ids


def lookup_result(sql: str, rows: list[tuple[Any, ...]]) -> pa.Table:
    """The rows of lookup statement ``sql`` as the journeys table, in the project's order."""
    if sql in _PACKED_SQL:
        return packed_to_table(rows[0] if rows else None).sort_by(LOOKUP_ORDER)
    return rows_to_table(rows).sort_by(LOOKUP_ORDER)


def _purge_keys(keys: pa.Table) -> pa.Table:
    for field in KEY_SCHEMA:
        if field.name not in keys.column_names:
            raise StoreInvalidRequest(f"column '{field.name}': missing in purge keys")
        if not pa.types.is_string(keys.schema.field(field.name).type):
            raise StoreInvalidRequest(f"column '{field.name}': purge keys must be strings")
        if keys.column(field.name).null_count:
            raise StoreInvalidRequest(f"column '{field.name}': null in purge keys")
    return keys.select(list(PRIMARY_KEY)).group_by(list(PRIMARY_KEY)).aggregate([])


class PostgresStore:
    """The journey store in PostgreSQL; ``url`` is a libpq URL, ``token`` its password."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = 5.0,
        bulk_timeout: float = 600.0,
        read_urls: Sequence[str] = (),
    ) -> None:
        self.location = url.split("@")[-1]  # never the password
        self.timeout = timeout
        self.bulk_timeout = bulk_timeout
        with translated():
            primary = build_conninfo(url, token)
            self._endpoints = Endpoints(
                primary, [build_conninfo(r, token) for r in read_urls], timeout=timeout
            )
        self._bulk = BulkConnections(primary, timeout=timeout, bulk_timeout=bulk_timeout)

    def conninfos(self) -> tuple[str, list[str]]:
        """The primary's and the read endpoints' connection strings (with the password)."""
        endpoints = self._endpoints
        return endpoints.primary.conninfo, [reader.conninfo for reader in endpoints.readers]

    def _bulk_timeout(self, connection: Connection) -> None:
        connection.execute(f"SET LOCAL statement_timeout = {int(self.bulk_timeout * 1000)}")

    # -- writes --------------------------------------------------------------------------
    def upsert(self, data: pa.Table | pa.RecordBatch) -> int:
        """Insert or replace rows by primary key; see :meth:`store.client.StoreClient.upsert`."""
        table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
        committed = 0
        for start in range(0, table.num_rows, UPSERT_BATCH_ROWS):
            chunk = table.slice(start, UPSERT_BATCH_ROWS)
            try:
                valid = last_per_key(validate_batch(chunk))
            except BatchRejected as exc:
                suffix = f" ({committed} rows of earlier batches in this call were committed)"
                raise StoreInvalidRequest(str(exc) + (suffix if committed else "")) from exc
            committed += self._bulk.write(partial(self._upsert_batch, table=valid))
        return committed

    def _upsert_batch(self, connection: BulkConnection, *, table: pa.Table) -> int:
        # Staged by binary COPY before the write lock: only the set-based statements wait.
        with connection.cursor() as cursor:
            cursor.execute(_STAGE_SQL)
            cursor.adbc_ingest(STAGING_TABLE, staged_table(table), mode="append", temporary=True)
            cursor.execute(_WRITE_LOCK_SQL)
            cursor.fetchall()
            cursor.execute(_TICK_SQL)
            cursor.execute(_UPSERT_SQL)
        rows: int = table.num_rows
        return rows

    def purge(
        self, *, closed_before: datetime, snapshot_at: datetime, keys: pa.Table | None = None
    ) -> int:
        """Delete closed rows; see :meth:`store.client.StoreClient.purge`."""
        bounds = {"closed_before": closed_before, "snapshot": snapshot_at}
        to_micros(closed_before), to_micros(snapshot_at)  # refuses naive datetimes
        unique = None if keys is None else _purge_keys(keys)

        def work(connection: Connection) -> int:
            deleted = 0
            with connection.transaction():
                self._bulk_timeout(connection)
                connection.execute(_WRITE_LOCK_SQL)
                if unique is None:
                    return connection.execute(_PURGE_ALL_SQL, bounds).rowcount
                for start in range(0, unique.num_rows, PURGE_KEYS_PER_STATEMENT):
                    part = unique.slice(start, PURGE_KEYS_PER_STATEMENT)
                    params = {
                        **bounds,
                        "customers": part.column("customer_id").to_pylist(),
                        "journeys": part.column("journey_id").to_pylist(),
                    }
                    deleted += connection.execute(_PURGE_KEYS_SQL, params).rowcount
            return deleted

        return self._endpoints.write(work)

    # -- reads ---------------------------------------------------------------------------
    def lookup(self, customer_ids: Sequence[str], status: str = "all") -> pa.Table:
        """All journeys of these customers, by customer and priority (read endpoints first)."""
        query = lookup_query(customer_ids, status)
        if query is None:
            return rows_to_table([])
        sql, param = query

        def work(connection: Connection) -> pa.Table:
            with connection.cursor(binary=True) as cursor:
                return lookup_result(sql, cursor.execute(sql, [param]).fetchall())

        return self._endpoints.read(work)

    def scan(self, status: str = "all") -> ScanResult:
        """A consistent snapshot (one REPEATABLE READ transaction on the primary), streamed
        as Arrow batches by binary COPY (ADBC)."""
        _check_status(status)
        where = _WHERE_STATUS[status]
        # The first query pins the snapshot: the clock and the count are of it.
        point, stream = self._bulk.snapshot_scan(
            f"SELECT last, (SELECT count(*) FROM {TABLE_NAME}{where}) FROM {CLOCK_TABLE}",
            f"SELECT {select_list_sql()} FROM {TABLE_NAME}{where}",
        )
        return ScanResult(to_micros(point[0]), int(point[1]), journey_batches(stream))

    def stats(self) -> StoreStats:
        """Row counts by status, database size and version (any role)."""

        def work(connection: Connection) -> tuple[Any, ...] | None:
            return connection.execute(f"SELECT * FROM {STATS_FUNCTION}()").fetchone()

        row = self._endpoints.read(work)
        if row is None:
            raise StoreInvalidRequest("no stats")
        return StoreStats(int(row[0]), int(row[1]), int(row[2]), __version__)

    def health(self) -> dict[str, Any]:
        """``{"status": "ok", "version": ..., "schema_version": n}`` when a server answers."""

        def work(connection: Connection) -> int:
            row = connection.execute(f"SELECT max(version) FROM {VERSION_TABLE}").fetchone()
            return int(row[0]) if row and row[0] is not None else 0

        return {"status": "ok", "version": __version__,
                "schema_version": self._endpoints.read(work)}  # fmt: skip

    def checkpoint(self) -> None:
        """Force a PostgreSQL checkpoint (admin: superuser or pg_checkpoint)."""
        self._endpoints.write(lambda c: c.execute("CHECKPOINT"))

    # -- lifecycle -----------------------------------------------------------------------
    def close(self) -> None:
        """Close the idle connections."""
        self._endpoints.close()
        self._bulk.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
