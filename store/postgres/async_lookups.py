"""Lookups on PostgreSQL as coroutines: psycopg's ``AsyncConnection``, no worker thread.

The responder's request path awaits :meth:`PostgresAsyncStore.lookup`; every other operation
(upserts, scans, purges: bulk work the offload jobs run) keeps the blocking
:class:`~store.postgres.client.PostgresStore` on :class:`~store.async_client.AsyncStoreClient`'s
bounded worker pool. Routing and errors are the blocking client's: reads go to the read-only
endpoints in order, then the primary (:func:`~store.postgres.connections.read_order`), an
endpoint that failed is skipped for ``RETRY_DOWN_AFTER_S``, an idle connection that outlived
its server is replaced once, and psycopg errors become the store's own errors.

At most ``max_connections`` lookups run at once (a semaphore; extra callers wait as
coroutines), each bounded by the store timeout.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence
from typing import Any, Final

import psycopg
import pyarrow as pa
from psycopg.pq import TransactionStatus

from store.async_client import AsyncStoreClient
from store.errors import StoreError, StoreUnavailable
from store.postgres.arrow_io import rows_to_table
from store.postgres.client import PostgresStore, lookup_query, lookup_result
from store.postgres.connections import (
    RETRY_DOWN_AFTER_S,
    connect_options,
    read_order,
    redacted,
    store_error,
)

AsyncConnection = psycopg.AsyncConnection[tuple[Any, ...]]
_MAX_IDLE: Final = 16


class AsyncServer:
    """Idle async connections to one server (LIFO, bounded); new ones opened on demand."""

    def __init__(self, conninfo: str, *, timeout: float) -> None:
        self.conninfo = conninfo
        self.name = redacted(conninfo)
        self.timeout = timeout
        self.down_until = 0.0
        self._idle: deque[AsyncConnection] = deque()
        self._closed = False

    async def connect(self) -> AsyncConnection:
        """A new connection (bounded by the timeout)."""
        async with asyncio.timeout(self.timeout):
            connection: AsyncConnection = await psycopg.AsyncConnection.connect(
                self.conninfo, **connect_options(self.timeout)
            )
        return connection

    def take_idle(self) -> AsyncConnection | None:
        """The most recently used idle connection, if any."""
        return self._idle.pop() if self._idle else None

    async def give_back(self, connection: AsyncConnection, healthy: bool) -> None:
        """Keep ``connection`` for the next lookup, or close it."""
        idle = connection.info.transaction_status == TransactionStatus.IDLE
        if healthy and idle and not self._closed and len(self._idle) < _MAX_IDLE:
            self._idle.append(connection)
        else:
            await connection.close()

    async def clear(self) -> None:
        """Close every idle connection (after the server went away)."""
        while self._idle:
            await self._idle.pop().close()

    async def close(self) -> None:
        """Close the idle connections; connections in use close when given back."""
        self._closed = True
        await self.clear()


class AsyncReadEndpoints:
    """Read-only endpoints (in order) then the primary, for async lookups."""

    def __init__(
        self, primary: str, readers: Sequence[str], *, timeout: float, max_connections: int
    ) -> None:
        self.primary = AsyncServer(primary, timeout=timeout)
        self.readers = [AsyncServer(r, timeout=timeout) for r in readers]
        self._slots = asyncio.Semaphore(max_connections)

    async def lookup(self, sql: str, param: Any) -> list[tuple[Any, ...]]:
        """The rows of one lookup statement from the first endpoint that answers."""
        async with self._slots:
            failure: StoreError | None = None
            for server in read_order(self.readers, self.primary, lambda s: s.down_until):
                try:
                    return await self._on(server, sql, param)
                except StoreUnavailable as exc:
                    failure = exc
                    server.down_until = time.monotonic() + RETRY_DOWN_AFTER_S
            raise failure or StoreUnavailable("no PostgreSQL endpoint configured")

    async def _on(self, server: AsyncServer, sql: str, param: Any) -> list[tuple[Any, ...]]:
        connection = server.take_idle()
        try:
            try:
                return await self._execute(server, connection, sql, param)
            except psycopg.OperationalError:
                # An idle connection may have outlived its server (restart, failover): try
                # once more on a new one. A lookup is idempotent.
                if connection is None or not connection.broken:
                    raise
                await server.clear()
                return await self._execute(server, None, sql, param)
        except psycopg.Error as exc:
            error = store_error(server.name, exc)
            if isinstance(error, StoreUnavailable):
                await server.clear()
            raise error from exc
        except TimeoutError as exc:
            raise StoreUnavailable(
                f"store at {server.name} unavailable: no answer within {server.timeout:g} s"
            ) from exc

    @staticmethod
    async def _execute(
        server: AsyncServer, connection: AsyncConnection | None, sql: str, param: Any
    ) -> list[tuple[Any, ...]]:
        if connection is None:
            connection = await server.connect()
        healthy = False
        try:
            # The server's statement_timeout bounds the query; this bounds a dead network too.
            async with asyncio.timeout(server.timeout + 1.0):
                async with connection.cursor(binary=True) as cursor:
                    await cursor.execute(sql, [param])
                    rows = await cursor.fetchall()
            healthy = True
            return rows
        finally:
            await server.give_back(connection, healthy)

    async def close(self) -> None:
        """Close every endpoint's idle connections."""
        for server in [self.primary, *self.readers]:
            await server.close()


class PostgresAsyncStore(AsyncStoreClient):
    """:class:`AsyncStoreClient` whose lookups are native coroutines (see the module doc)."""

    def __init__(
        self, client: PostgresStore, *, max_workers: int = 4, max_connections: int = 8
    ) -> None:
        super().__init__(client, max_workers=max_workers)
        primary, readers = client.conninfos()
        self._reads = AsyncReadEndpoints(
            primary, readers, timeout=client.timeout, max_connections=max_connections
        )

    async def lookup(self, customer_ids: Sequence[str], status: str = "all") -> pa.Table:
        """See :meth:`PostgresStore.lookup`; awaited on the event loop, no thread."""
        query = lookup_query(list(customer_ids), status)
        if query is None:
            return rows_to_table([])
        return lookup_result(await self._reads.lookup(*query))

    async def aclose(self) -> None:
        """Close the async connections, then the blocking client and its workers."""
        await self._reads.close()
        await super().aclose()
