"""Bulk Arrow transfer with the primary through ADBC (``adbc-driver-postgresql``).

ADBC's PostgreSQL driver moves Arrow data with binary ``COPY`` in C++: ``adbc_ingest`` writes a
table into the upsert's staging table, and a query's result streams back as Arrow record
batches (``COPY (query) TO STDOUT (FORMAT binary)``), with no Python object per value.

:class:`BulkConnections` keeps a few idle write connections to the primary (each operation is
one transaction, committed when the work returns, closed when it fails) and opens a fresh
connection per snapshot scan whose transactions are ``REPEATABLE READ READ ONLY``
(:class:`SnapshotStream` closes it). Statements
run under the bulk timeout. Errors leave as store errors (:func:`.errors.translate_adbc_error`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any, Final, TypeVar

import adbc_driver_manager
import pyarrow as pa
from adbc_driver_manager import dbapi as adbc_dbapi
from adbc_driver_postgresql import dbapi as adbc_postgres
from psycopg import conninfo as pg_conninfo

from store.errors import StoreError, StoreInternalError, StoreUnavailable
from store.postgres.connections import redacted
from store.postgres.errors import translate_adbc_error

T = TypeVar("T")
BulkConnection = adbc_dbapi.Connection

_MAX_IDLE: Final = 2
#: libpq ``options`` of a snapshot connection (the backslash escapes the space for libpq).
_SNAPSHOT_OPTIONS: Final = (
    "-c default_transaction_isolation=repeatable\\ read -c default_transaction_read_only=on"
)


def _connection_lost(exc: adbc_driver_manager.Error) -> bool:
    """Whether ``exc`` says the connection itself is gone (so a retry may succeed)."""
    state = exc.sqlstate or ""
    lost = isinstance(exc, adbc_driver_manager.OperationalError) and not state
    return lost or state.startswith(("08", "57P"))


def _close(resource: BulkConnection | adbc_dbapi.Cursor) -> None:
    with suppress(adbc_driver_manager.Error):
        resource.close()


class SnapshotStream:
    """A snapshot scan's record batches; its cursor and connection are closed when the stream
    ends, fails, or is dropped unread (closing rolls the read-only transaction back)."""

    def __init__(
        self,
        connection: BulkConnection,
        cursor: adbc_dbapi.Cursor,
        reader: pa.RecordBatchReader,
        failure: Callable[[adbc_driver_manager.Error], StoreError],
    ) -> None:
        self._connection: BulkConnection | None = connection
        self._cursor = cursor
        self._reader = reader
        self._failure = failure

    def __iter__(self) -> SnapshotStream:
        return self

    def __next__(self) -> pa.RecordBatch:
        if self._connection is None:
            raise StopIteration
        try:
            return self._reader.read_next_batch()
        except StopIteration:
            self.close()
            raise
        except adbc_driver_manager.Error as exc:
            self.close()
            raise self._failure(exc) from exc

    def close(self) -> None:
        """Release the cursor and the connection (idempotent)."""
        if self._connection is not None:
            _close(self._cursor)
            _close(self._connection)
            self._connection = None

    def __del__(self) -> None:
        self.close()


class BulkConnections:
    """ADBC connections to one server (the primary) for upserts and snapshot scans."""

    def __init__(self, conninfo: str, *, timeout: float, bulk_timeout: float) -> None:
        self.name = redacted(conninfo)
        options = f"-c TimeZone=UTC -c statement_timeout={int(bulk_timeout * 1000)}"
        connect_timeout = max(1, round(timeout))
        self._write_info = pg_conninfo.make_conninfo(
            conninfo, connect_timeout=connect_timeout, options=options
        )
        self._snapshot_info = pg_conninfo.make_conninfo(
            conninfo, connect_timeout=connect_timeout, options=f"{options} {_SNAPSHOT_OPTIONS}"
        )
        self._idle: list[BulkConnection] = []
        self._lock = threading.Lock()
        self._closed = False

    def failure(self, exc: adbc_driver_manager.Error) -> StoreError:
        """The store error for an ADBC error on this server."""
        error = translate_adbc_error(exc)
        if isinstance(error, StoreUnavailable):
            return StoreUnavailable(f"store at {self.name} unavailable: {error}")
        return error

    def _take(self) -> tuple[BulkConnection, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        return adbc_postgres.connect(self._write_info), False

    def _give(self, connection: BulkConnection) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < _MAX_IDLE:
                self._idle.append(connection)
                return
        _close(connection)

    def _attempt(self, connection: BulkConnection, work: Callable[[BulkConnection], T]) -> T:
        try:
            result = work(connection)
            connection.commit()
        except BaseException:
            _close(connection)  # closing rolls the transaction back
            raise
        self._give(connection)
        return result

    def write(self, work: Callable[[BulkConnection], T]) -> T:
        """Run ``work`` in one transaction on the primary; committed when it returns.

        An idle connection may have outlived its server: if it turns out to be gone, the work
        runs once more on a new connection (it is one transaction, so it is all or nothing).
        """
        try:
            connection, reused = self._take()
            try:
                return self._attempt(connection, work)
            except adbc_driver_manager.Error as exc:
                if not (reused and _connection_lost(exc)):
                    raise
            self.clear()
            return self._attempt(adbc_postgres.connect(self._write_info), work)
        except adbc_driver_manager.Error as exc:
            raise self.failure(exc) from exc

    def snapshot_scan(
        self, point_sql: str, rows_sql: str
    ) -> tuple[tuple[Any, ...], SnapshotStream]:
        """``point_sql``'s row and ``rows_sql``'s rows streamed, both of one snapshot.

        A new connection whose transactions are REPEATABLE READ READ ONLY: its first query
        (``point_sql``) pins the snapshot that ``rows_sql`` then reads.
        """
        try:
            connection = adbc_postgres.connect(self._snapshot_info)
        except adbc_driver_manager.Error as exc:
            raise self.failure(exc) from exc
        cursor = connection.cursor()
        try:
            cursor.execute(point_sql)
            point = cursor.fetchone()
            if point is None:
                raise StoreInternalError(f"no row from {point_sql!r}")
            cursor.execute(rows_sql)
            reader = cursor.fetch_record_batch()
        except BaseException as exc:
            _close(cursor)
            _close(connection)
            if isinstance(exc, adbc_driver_manager.Error):
                raise self.failure(exc) from exc
            raise
        return tuple(point), SnapshotStream(connection, cursor, reader, self.failure)

    def clear(self) -> None:
        """Close the idle connections."""
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            _close(connection)

    def close(self) -> None:
        """Close the idle connections; connections in use close when returned."""
        self._closed = True
        self.clear()
