"""The store's DuckDB database: the one place that runs SQL on the journeys table.

One :class:`JourneyDatabase` per server process owns the DuckDB file. Each request runs on
its own cursor (DuckDB 2.x: an open result owns its connection until consumed); idle cursors
are pooled. Writes (upsert, purge) and the start of a snapshot scan are serialised by one lock,
so the server clock's ``updated_at`` stamps and the snapshot timestamps are ordered exactly
like the commits: a row with ``updated_at <= snapshot_at`` is always in that snapshot.

Lookups by customer id use an ART index on ``customer_id``: DuckDB only scans an index for
filters on all of its columns, so the ``(customer_id, journey_id)`` primary-key index cannot
serve them (measured with EXPLAIN ANALYZE: sequential scan without it).
"""

# SQL here is composed only from this module's constants (the table, index and column names of
# journeys.schema); every value is a bound parameter or a registered Arrow table.
# ruff: noqa: S608

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from journeys.contract import StatusFilter, parse_status_filter
from journeys.schema import (
    COLUMN_NAMES,
    JOURNEY_SCHEMA,
    KEY_SCHEMA,
    LOOKUP_ORDER,
    PRIMARY_KEY,
    TABLE_NAME,
    conform_to_journey_schema,
    create_table_sql,
)
from store.lookup_cache import LookupCache
from store.server_clock import (
    CREATE_CLOCK_SQL,
    LOAD_FLOOR_SQL,
    SAVE_FLOOR_SQL,
    ServerClock,
    wall_clock_us,
)
from store.validation import last_per_key

CUSTOMER_INDEX: Final = "journeys_customer_idx"
#: Up to this many ids a lookup is an index scan per id (IN list); above it a hash semi-join
#: against the ids (a full scan of customer_id) is cheaper (see bench/store_bench.py: at 1M rows
#: 500 ids take ~40 ms by index, ~200 ms by semi-join).
INDEX_LOOKUP_MAX_IDS: Final = 2_000
SCAN_BATCH_ROWS: Final = 64 * 1024
_MAX_IDLE_CURSORS: Final = 32

_STATUS_SQL: Final = {
    StatusFilter.ALL: "TRUE",
    StatusFilter.OPEN: "status = 'open'",
    StatusFilter.CLOSED: "status = 'closed'",
}
_TIMESTAMP_SQL: Final = "make_timestamp(CAST(? AS BIGINT))::TIMESTAMPTZ"
#: Insert or replace the registered ``upsert_batch``, stamping ``updated_at`` (the parameter).
_UPSERT_SQL: Final = (
    f"INSERT INTO {TABLE_NAME} SELECT "
    + ", ".join(
        f"{_TIMESTAMP_SQL} AS updated_at" if name == "updated_at" else name for name in COLUMN_NAMES
    )
    + f" FROM upsert_batch ON CONFLICT ({', '.join(PRIMARY_KEY)}) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in COLUMN_NAMES if name not in PRIMARY_KEY)
)


@dataclass
class Snapshot:
    """A consistent view of the table: its timestamp, row count and batches (one transaction)."""

    snapshot_at_us: int
    row_count: int
    batches: Iterator[pa.RecordBatch]
    _close: list[duckdb.DuckDBPyConnection] = field(default_factory=list, repr=False)

    def close(self) -> None:
        """End the snapshot's transaction (idempotent)."""
        while self._close:
            cursor = self._close.pop()
            with suppress(duckdb.Error):  # already ended with the connection
                cursor.execute("ROLLBACK").fetchall()
            cursor.close()


@dataclass(frozen=True)
class TableCounts:
    """Rows by status and the size of the database files."""

    rows_open: int
    rows_closed: int
    db_bytes: int


def _check_status(status: str) -> str:
    return _STATUS_SQL[parse_status_filter(status)]


class JourneyDatabase:
    """The journeys table in one DuckDB file, with the operations the server exposes."""

    def __init__(
        self,
        path: Path,
        *,
        checkpoint_threshold: str = "1GB",
        threads: int | None = None,
        memory_limit: str | None = None,
        compression: str = "uncompressed",
        lookup_cache: LookupCache | None = None,
        now_us: Callable[[], int] = wall_clock_us,
    ) -> None:
        self.path = path
        #: Customers' rows kept between lookups; every write below invalidates its customers.
        self.lookup_cache = lookup_cache if lookup_cache is not None else LookupCache(0)
        self._con = duckdb.connect(str(path))
        settings = {"checkpoint_threshold": checkpoint_threshold}
        if threads is not None:
            settings["threads"] = str(threads)
        if memory_limit is not None:
            settings["memory_limit"] = memory_limit
        if compression != "auto":
            # Uncompressed segments make a row fetch by index a copy instead of a decode of a
            # whole vector per column: ~3x faster point lookups for ~2.5x the file size.
            settings["force_compression"] = compression
        statements = [
            "SET GLOBAL TimeZone = 'UTC'",
            *(f"SET GLOBAL {name} = '{value}'" for name, value in settings.items()),
            # Index scans for IN lists of up to INDEX_LOOKUP_MAX_IDS customers.
            f"SET GLOBAL index_scan_max_count = {INDEX_LOOKUP_MAX_IDS * 32}",
            create_table_sql(),
            f"CREATE INDEX IF NOT EXISTS {CUSTOMER_INDEX} ON {TABLE_NAME} (customer_id)",
            CREATE_CLOCK_SQL,
        ]
        for statement in statements:
            self._con.execute(statement).fetchall()
        # Above every stamp handed out before: the rows' and the persisted snapshot points'.
        floors = [
            self._con.execute(sql).fetchall()[0][0]
            for sql in (f"SELECT epoch_us(max(updated_at)) FROM {TABLE_NAME}", LOAD_FLOOR_SQL)
        ]
        floor_us = max((int(f) for f in floors if f is not None), default=0)
        self.clock = ServerClock(floor_us, now_us)
        self._write_lock = threading.Lock()
        self._idle: queue.LifoQueue[duckdb.DuckDBPyConnection] = queue.LifoQueue()
        self._closed = False

    # -- cursors -------------------------------------------------------------------------
    def _new_cursor(self) -> duckdb.DuckDBPyConnection:
        cursor = self._con.cursor()
        cursor.execute("SET TimeZone = 'UTC'").fetchall()
        return cursor

    @contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        try:
            cursor = self._idle.get_nowait()
        except queue.Empty:
            cursor = self._new_cursor()
        healthy = False
        try:
            yield cursor
            healthy = True
        finally:
            if healthy and not self._closed and self._idle.qsize() < _MAX_IDLE_CURSORS:
                self._idle.put(cursor)
            else:
                cursor.close()

    # -- operations ----------------------------------------------------------------------
    def upsert(self, table: pa.Table) -> int:
        """Insert or replace rows by primary key in one transaction; stamps ``updated_at``.

        ``table`` must already be validated (:func:`store.validation.validate_batch`).
        Within one batch the last row of a key wins. Returns the number of rows written.
        """
        table = last_per_key(table)
        customers = table.column("customer_id")
        with self.lookup_cache.writing(customers), self._cursor() as cursor:
            cursor.register("upsert_batch", table)
            try:
                with self._write_lock:
                    # Consuming the result completes (and auto-commits) the statement.
                    cursor.execute(_UPSERT_SQL, [self.clock.tick()]).fetchall()
            finally:
                cursor.unregister("upsert_batch")
        rows: int = table.num_rows
        return rows

    def lookup(self, customer_ids: Sequence[str], status: str = "all") -> pa.Table:
        """All journeys of these customers (optionally only open/closed), by customer, priority.

        Served from :attr:`lookup_cache` where it can, with the same result.
        """
        _check_status(status)
        ids = list(dict.fromkeys(customer_ids))
        if not ids:
            return JOURNEY_SCHEMA.empty_table()
        return self.lookup_cache.lookup(ids, status, self._select)

    def _select(self, ids: list[str], status: str) -> pa.Table:
        """The lookup in DuckDB (uncached); :meth:`lookup` already checked ``status`` and made
        ``ids`` distinct and non-empty."""
        # No ORDER BY in SQL: sorting the few rows in Arrow afterwards gives the same table and
        # makes a lookup ~20-40 % cheaper (measured, see docs/performance.md).
        with self._cursor() as cursor:
            if len(ids) <= INDEX_LOOKUP_MAX_IDS:
                marks = ", ".join("?" for _ in ids)
                sql = f"SELECT * FROM {TABLE_NAME} WHERE customer_id IN ({marks})"
                result = cursor.sql(sql, params=ids).to_arrow_table()
            else:
                cursor.register("lookup_ids", pa.table({"customer_id": pa.array(ids)}))
                try:
                    sql = (
                        f"SELECT * FROM {TABLE_NAME} WHERE customer_id IN "
                        f"(SELECT customer_id FROM lookup_ids)"
                    )
                    result = cursor.sql(sql).to_arrow_table()
                finally:
                    cursor.unregister("lookup_ids")
        if status != "all":
            # Filtering here keeps the index scan: DuckDB skips it when other filters exist.
            result = result.filter(pc.equal(result.column("status"), status))
        return conform_to_journey_schema(result).sort_by(LOOKUP_ORDER)

    def snapshot(self, status: str = "all") -> Snapshot:
        """Open a consistent snapshot; iterate ``.batches`` and ``close()`` it when done."""
        where = _check_status(status)
        cursor = self._new_cursor()
        try:
            with self._write_lock:
                cursor.execute("BEGIN TRANSACTION").fetchall()
                # The first statement pins the transaction's MVCC snapshot; under the lock no
                # write can commit between it and the timestamp.
                counted = cursor.execute(f"SELECT count(*) FROM {TABLE_NAME} WHERE {where}")
                row_count = int(counted.fetchall()[0][0])
                snapshot_at = self.clock.tick()
                self._save_clock_floor(snapshot_at)
            reader = cursor.sql(f"SELECT * FROM {TABLE_NAME} WHERE {where}").to_arrow_reader(
                SCAN_BATCH_ROWS
            )
        except BaseException:
            cursor.close()
            raise
        snapshot = Snapshot(snapshot_at, row_count, iter(()), [cursor])

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                for batch in reader:
                    table = conform_to_journey_schema(pa.Table.from_batches([batch]))
                    yield from table.to_batches()
            finally:
                snapshot.close()

        snapshot.batches = batches()
        return snapshot

    def purge(self, *, closed_before_us: int, snapshot_at_us: int, keys: pa.Table | None) -> int:
        """Delete closed rows closed at/before and updated at/before the given times.

        With ``keys`` (KEY_SCHEMA) only those primary keys are candidates. Returns the count.
        """
        conditions = (
            f"j.status = 'closed' AND j.closed_at <= {_TIMESTAMP_SQL} "
            f"AND j.updated_at <= {_TIMESTAMP_SQL}"
        )
        params = [closed_before_us, snapshot_at_us]
        customers = None if keys is None else keys.column("customer_id")
        with self._write_lock:
            # Later stamps must stay above this point even after a restart (server_clock.py).
            self.clock.observe(snapshot_at_us)
            self._save_clock_floor(snapshot_at_us)
        with self.lookup_cache.writing(customers), self._cursor() as cursor:
            if keys is None:
                sql = f"DELETE FROM {TABLE_NAME} j WHERE {conditions}"
                with self._write_lock:
                    return _count(cursor.execute(sql, params))
            keys = keys.select(list(KEY_SCHEMA.names)).group_by(list(PRIMARY_KEY)).aggregate([])
            cursor.register("purge_keys", keys)
            try:
                sql = (
                    f"DELETE FROM {TABLE_NAME} j USING purge_keys k WHERE "
                    f"j.customer_id = k.customer_id AND j.journey_id = k.journey_id "
                    f"AND {conditions}"
                )
                with self._write_lock:
                    return _count(cursor.execute(sql, params))
            finally:
                cursor.unregister("purge_keys")

    def _save_clock_floor(self, stamp_us: int) -> None:
        """Persist ``stamp_us`` as the clock's floor (committed on return; write lock held)."""
        with self._cursor() as cursor:
            cursor.execute(SAVE_FLOOR_SQL, [stamp_us]).fetchall()

    def counts(self) -> TableCounts:
        """Rows by status (one consistent read) and the size of the database and WAL files."""
        with self._cursor() as cursor:
            result = cursor.execute(
                f"SELECT count(*) FILTER (status = 'open'), count(*) FILTER (status = 'closed') "
                f"FROM {TABLE_NAME}"
            ).fetchall()[0]
        rows_open, rows_closed = int(result[0]), int(result[1])
        size = 0
        for candidate in (self.path, self.path.with_name(self.path.name + ".wal")):
            with suppress(FileNotFoundError):
                size += candidate.stat().st_size
        return TableCounts(rows_open, rows_closed, size)

    def checkpoint(self) -> None:
        """Write the WAL into the database file (and rewrite the indexes)."""
        with self._write_lock, self._cursor() as cursor:
            cursor.execute("CHECKPOINT").fetchall()

    def close(self) -> None:
        """Close every cursor and the database (a clean close checkpoints the WAL)."""
        if self._closed:
            return
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                break
        self._con.close()

    def __enter__(self) -> JourneyDatabase:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _count(result: duckdb.DuckDBPyConnection) -> int:
    return int(result.fetchall()[0][0])
