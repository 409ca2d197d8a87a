"""Connections to one PostgreSQL server, and a primary with read-only endpoints in front.

:class:`ServerConnections` keeps idle connections to one server (LIFO, bounded) and opens new
ones on demand with ``psycopg.connect``, so a failure to connect surfaces as the real psycopg
error (bad password, refused, timed out) rather than a pool's generic timeout. A connection
goes back only when it is healthy and outside a transaction.

:class:`Endpoints` routes reads to the read-only endpoints (hot standbys) in order, then the
primary; an endpoint that failed to answer is skipped for :data:`RETRY_DOWN_AFTER_S`.
Writes go to the primary only. TLS, passwords and every other libpq setting come from the
connection string and the standard ``PG*`` environment (``sslmode=verify-full``,
``PGPASSFILE``...); :func:`redacted` is the only form that is ever shown.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final, TypeVar

import psycopg
from psycopg import conninfo as pg_conninfo
from psycopg.pq import TransactionStatus

from store.errors import StoreError, StoreUnavailable
from store.postgres.errors import translate_error

T = TypeVar("T")
Connection = psycopg.Connection[tuple[Any, ...]]

RETRY_DOWN_AFTER_S: Final = 1.0
_MAX_IDLE: Final = 16
_SECRET_KEYS: Final = frozenset({"password", "sslpassword"})
#: Lookups are index probes of a few rows: a prepared statement keeps its generic plan (no
#: planning per call; the partitions are pruned at executor start) and never starts parallel
#: workers (their start-up costs more than the probe).
_SESSION_OPTIONS: Final = (
    "-c plan_cache_mode=force_generic_plan -c max_parallel_workers_per_gather=0"
)


def build_conninfo(url: str, password: str | None) -> str:
    """libpq connection string for ``url``; ``password`` is used when the URL has none."""
    params = pg_conninfo.conninfo_to_dict(url)
    if password and not params.get("password"):
        params["password"] = password
    return pg_conninfo.make_conninfo("", **params)


def redacted(conninfo: str) -> str:
    """``host:port/dbname as user``: what may appear in messages and logs."""
    params = pg_conninfo.conninfo_to_dict(conninfo)
    shown = {k: v for k, v in params.items() if k not in _SECRET_KEYS}
    host, port = shown.get("host", "localhost"), shown.get("port", "5432")
    return f"{host}:{port}/{shown.get('dbname', '')} as {shown.get('user', '')}"


def connect_options(timeout: float) -> dict[str, Any]:
    """``psycopg.connect`` options of every store connection (sync or async)."""
    return {
        "autocommit": True,
        "connect_timeout": max(1, round(timeout)),
        "options": f"-c TimeZone=UTC -c statement_timeout={int(timeout * 1000)} {_SESSION_OPTIONS}",
        "prepare_threshold": 0,  # every statement is prepared on first use
    }


def read_order(readers: Sequence[T], primary: T, down_until: Callable[[T], float]) -> list[T]:
    """Where a read goes, in order: readers, then the primary, skipping servers marked down
    (all of them when every one is)."""
    candidates = [*readers, primary]
    now = time.monotonic()
    return [c for c in candidates if down_until(c) <= now] or candidates


def store_error(server_name: str, exc: psycopg.Error) -> StoreError:
    """The store error for ``exc`` from the server named ``server_name``."""
    error = translate_error(exc)
    if isinstance(error, StoreUnavailable):
        return StoreUnavailable(f"store at {server_name} unavailable: {error}")
    return error


class ServerConnections:
    """Connections to one server; ``timeout`` bounds connecting and each statement."""

    def __init__(self, conninfo: str, *, timeout: float) -> None:
        self.conninfo = conninfo
        self.name = redacted(conninfo)
        self.timeout = timeout
        self.down_until = 0.0
        self._idle: queue.LifoQueue[Connection] = queue.LifoQueue()
        self._closed = False

    def _connect(self) -> Connection:
        connection: Connection = psycopg.connect(self.conninfo, **connect_options(self.timeout))
        return connection

    @contextmanager
    def connection(self, *, fresh: bool = False) -> Iterator[tuple[Connection, bool]]:
        """A connection in autocommit mode and whether it was idle before (it may be stale).

        psycopg errors propagate untranslated; ``fresh`` skips the idle connections.
        """
        reused = not fresh
        try:
            if fresh:
                raise queue.Empty
            connection = self._idle.get_nowait()
        except queue.Empty:
            reused = False
            connection = self._connect()
        healthy = False
        try:
            yield connection, reused
            healthy = True
        finally:
            idle = connection.info.transaction_status == TransactionStatus.IDLE
            if healthy and idle and not self._closed and self._idle.qsize() < _MAX_IDLE:
                self._idle.put(connection)
            else:
                connection.close()

    def clear(self) -> None:
        """Close every idle connection (after the server went away)."""
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return

    def close(self) -> None:
        """Close the idle connections; connections in use close when returned."""
        self._closed = True
        self.clear()


class Endpoints:
    """The primary (reads and writes) and read-only endpoints (reads, primary as fallback)."""

    def __init__(self, primary: str, readers: Sequence[str], *, timeout: float) -> None:
        self.primary = ServerConnections(primary, timeout=timeout)
        self.readers = [ServerConnections(r, timeout=timeout) for r in readers]
        self._lock = threading.Lock()

    def write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` on a primary connection; errors become store errors."""
        return self._run(self.primary, work)

    def read(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` on the first endpoint that answers (readers in order, then primary)."""
        failure: StoreError | None = None
        for server in read_order(self.readers, self.primary, lambda c: c.down_until):
            try:
                return self._run(server, work)
            except StoreUnavailable as exc:
                failure = exc
                with self._lock:
                    server.down_until = time.monotonic() + RETRY_DOWN_AFTER_S
        assert failure is not None  # noqa: S101 (up is never empty)
        raise failure

    def _run(self, server: ServerConnections, work: Callable[[Connection], T]) -> T:
        # An idle connection may have outlived its server (restart, failover): on a connection
        # failure, try once more on a new connection. Every operation here is idempotent.
        used: Connection | None = None
        stale = False
        try:
            try:
                with server.connection() as (connection, reused):
                    used, stale = connection, reused
                    return work(connection)
            except psycopg.OperationalError:
                if not (stale and used is not None and used.broken):
                    raise
                server.clear()
                with server.connection(fresh=True) as (connection, _):
                    return work(connection)
        except psycopg.Error as exc:
            error = store_error(server.name, exc)
            if isinstance(error, StoreUnavailable):
                server.clear()
            raise error from exc

    def close(self) -> None:
        """Close every endpoint's idle connections."""
        for server in [self.primary, *self.readers]:
            server.close()
