"""Lookups on PostgreSQL as coroutines: psycopg's ``AsyncConnection``, no worker thread.

The responder's request path awaits :meth:`PostgresAsyncStore.lookup`; every other operation
(upserts, scans, purges: bulk work the offload jobs run) keeps the blocking
:class:`~store.postgres.client.PostgresStore` on :class:`~store.async_client.AsyncStoreClient`'s
bounded worker pool. Routing and errors are the blocking client's: reads go to the read-only
endpoints in order, then the primary (:func:`~store.postgres.connections.read_order`), an
endpoint that failed is skipped for ``RETRY_DOWN_AFTER_S``, an idle connection that outlived
its server is replaced once, and psycopg errors become the store's own errors.

Two bounds keep a bad standby from costing lookups:

* an endpoint that is not the last one to try gets ``attempt_timeout`` (default 0.5 s) to
  answer, connecting included; a standby that accepts and never answers is then marked down and
  the next endpoint answers within the caller's budget (the responder's is at most 2 s, shorter
  than the store timeout, so waiting for the store timeout would never mark it down). The
  attempt that ran out is abandoned, not awaited: psycopg's clean-up of a cancelled query
  (asking the hung server to cancel it) would outlast both bounds;
* a standby whose replay is more than ``max_replay_lag`` seconds behind the primary
  (:mod:`~store.postgres.replay_lag`, checked every second in the background) is skipped until
  it catches up.

At most ``max_connections`` lookups run at once (a semaphore; extra callers wait as
coroutines), each bounded by the store timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
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
from store.postgres.replay_lag import (
    CHECK_INTERVAL_S,
    MAX_REPLAY_LAG_S,
    PRIMARY_LSN_SQL,
    REPLAYED_LSN_SQL,
    ReplayLag,
)

AsyncConnection = psycopg.AsyncConnection[tuple[Any, ...]]
_MAX_IDLE: Final = 16
#: How long an endpoint that is not the last to try may take to answer one lookup (seconds).
READ_ATTEMPT_TIMEOUT_S: Final = 0.5
log = logging.getLogger(__name__)


class AsyncServer:
    """Idle async connections to one server (LIFO, bounded); new ones opened on demand."""

    def __init__(self, conninfo: str, *, timeout: float) -> None:
        self.conninfo = conninfo
        self.name = redacted(conninfo)
        self.timeout = timeout
        self.down_until = 0.0
        #: A standby whose replay is too far behind the primary (skipped while true).
        self.stale = False
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
        self,
        primary: str,
        readers: Sequence[str],
        *,
        timeout: float,
        max_connections: int,
        attempt_timeout: float = READ_ATTEMPT_TIMEOUT_S,
        max_replay_lag: float = MAX_REPLAY_LAG_S,
        check_interval: float = CHECK_INTERVAL_S,
    ) -> None:
        self.primary = AsyncServer(primary, timeout=timeout)
        self.readers = [AsyncServer(r, timeout=timeout) for r in readers]
        self._slots = asyncio.Semaphore(max_connections)
        self._attempt_timeout = attempt_timeout
        self._lag = ReplayLag(max_replay_lag)
        self._check_interval = check_interval
        self._watch: asyncio.Task[None] | None = None
        #: Attempts given up on (see :meth:`_on`) that are still finishing.
        self._abandoned: set[asyncio.Task[list[tuple[Any, ...]]]] = set()

    async def lookup(self, sql: str, param: Any) -> list[tuple[Any, ...]]:
        """The rows of one lookup statement from the first endpoint that answers."""
        self._start_watch()
        async with self._slots:
            failure: StoreError | None = None
            current = [reader for reader in self.readers if not reader.stale]
            order = read_order(current, self.primary, lambda s: s.down_until)
            for position, server in enumerate(order):
                last = position == len(order) - 1
                bound = server.timeout if last else min(server.timeout, self._attempt_timeout)
                try:
                    return await self._on(server, sql, param, bound)
                except StoreUnavailable as exc:
                    failure = exc
                    server.down_until = time.monotonic() + RETRY_DOWN_AFTER_S
            raise failure or StoreUnavailable("no PostgreSQL endpoint configured")

    async def _on(
        self, server: AsyncServer, sql: str, param: Any, bound: float
    ) -> list[tuple[Any, ...]]:
        """The rows of ``sql`` on ``server`` within ``bound`` seconds, or a store error.

        The attempt runs as a task of its own, which is abandoned (cancelled, not awaited) when
        the bound or the caller's own deadline passes first. Cancelling a query that psycopg is
        waiting for makes psycopg ask the server to cancel it (a new connection to the same
        address, up to 5 s) and then wait up to 5 s more for the query to end: on a server that
        accepts and never answers, awaiting that would hold the lookup past the bound and past
        the caller's budget, and the server would never be marked down.
        """
        attempt = asyncio.ensure_future(self._attempt(server, sql, param))
        try:
            done, _ = await asyncio.wait([attempt], timeout=bound)
        except asyncio.CancelledError:
            self._abandon(attempt)
            raise
        if not done:
            self._abandon(attempt)
            raise StoreUnavailable(
                f"store at {server.name} unavailable: no answer within {bound:g} s"
            )
        try:
            return attempt.result()
        except psycopg.Error as exc:
            error = store_error(server.name, exc)
            if isinstance(error, StoreUnavailable):
                await server.clear()
            raise error from exc
        except TimeoutError as exc:  # connecting, or the network bound in _execute
            raise StoreUnavailable(
                f"store at {server.name} unavailable: no answer within {bound:g} s"
            ) from exc

    async def _attempt(self, server: AsyncServer, sql: str, param: Any) -> list[tuple[Any, ...]]:
        connection = server.take_idle()
        try:
            return await self._execute(server, connection, sql, param)
        except psycopg.OperationalError:
            # An idle connection may have outlived its server (restart, failover): try once
            # more on a new one. A lookup is idempotent.
            if connection is None or not connection.broken:
                raise
            await server.clear()
            return await self._execute(server, None, sql, param)

    def _abandon(self, attempt: asyncio.Task[list[tuple[Any, ...]]]) -> None:
        """Cancel ``attempt`` and let it finish (psycopg's clean-up, its connection closed) in
        the background; :meth:`close` ends what is still running."""
        attempt.cancel()
        self._abandoned.add(attempt)
        attempt.add_done_callback(self._forget)

    def _forget(self, attempt: asyncio.Task[list[tuple[Any, ...]]]) -> None:
        self._abandoned.discard(attempt)
        if not attempt.cancelled():
            attempt.exception()  # retrieved: nobody waits for an abandoned attempt

    # -- replay lag of the standbys (see store.postgres.replay_lag) --------------------------
    def _start_watch(self) -> None:
        if self._watch is None and self.readers and self._lag.max_lag_s > 0:
            self._watch = asyncio.get_running_loop().create_task(
                self._watch_replay_lag(), name="postgres-replay-lag"
            )

    async def _watch_replay_lag(self) -> None:
        while True:
            await self._check_replay_lag()
            await asyncio.sleep(self._check_interval)

    async def _check_replay_lag(self) -> None:
        """Read the primary's WAL position, then mark each standby stale or current."""
        try:
            [(position,)] = await self._on(
                self.primary, PRIMARY_LSN_SQL, None, self._attempt_timeout
            )
        except (StoreError, ValueError) as exc:
            log.debug("replay lag not checked: the primary did not answer (%s)", exc)
            return  # no reference: keep each standby's last verdict
        now = time.monotonic()
        self._lag.primary_at(now, int(position))
        for reader in self.readers:
            try:
                [(replayed,)] = await self._on(
                    reader, REPLAYED_LSN_SQL, None, self._attempt_timeout
                )
            except (StoreError, ValueError):
                continue  # an endpoint that does not answer is skipped by the down mark
            stale = self._lag.stale(time.monotonic(), None if replayed is None else int(replayed))
            if stale != reader.stale:
                log.warning(
                    "read endpoint %s %s",
                    reader.name,
                    f"replays more than {self._lag.max_lag_s:g} s behind the primary: skipped"
                    if stale
                    else "caught up with the primary: used again",
                )
            reader.stale = stale

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
                    await cursor.execute(sql, [param] if param is not None else None)
                    rows = await cursor.fetchall()
            healthy = True
            return rows
        finally:
            await server.give_back(connection, healthy)

    async def close(self) -> None:
        """Stop the replay-lag checks and close every endpoint's idle connections."""
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        for attempt in list(self._abandoned):
            attempt.cancel()  # cancelled again, psycopg closes the connection at once
        await asyncio.gather(*self._abandoned, return_exceptions=True)
        for server in [self.primary, *self.readers]:
            await server.close()


class PostgresAsyncStore(AsyncStoreClient):
    """:class:`AsyncStoreClient` whose lookups are native coroutines (see the module doc)."""

    def __init__(
        self,
        client: PostgresStore,
        *,
        max_workers: int = 4,
        max_connections: int = 8,
        read_attempt_timeout: float = READ_ATTEMPT_TIMEOUT_S,
        max_replay_lag: float = MAX_REPLAY_LAG_S,
    ) -> None:
        super().__init__(client, max_workers=max_workers)
        primary, readers = client.conninfos()
        self._reads = AsyncReadEndpoints(
            primary,
            readers,
            timeout=client.timeout,
            max_connections=max_connections,
            attempt_timeout=read_attempt_timeout,
            max_replay_lag=max_replay_lag,
        )

    async def lookup(self, customer_ids: Sequence[str], status: str = "all") -> pa.Table:
        """See :meth:`PostgresStore.lookup`; awaited on the event loop, no thread."""
        query = lookup_query(list(customer_ids), status)
        if query is None:
            return rows_to_table([])
        sql, param = query
        return lookup_result(sql, await self._reads.lookup(sql, param))

    async def aclose(self) -> None:
        """Close the async connections, then the blocking client and its workers."""
        await self._reads.close()
        await super().aclose()
