"""What every store backend offers: :class:`JourneyStore` (blocking) and :class:`AsyncJourneyStore`.

Backends: :class:`store.client.StoreClient` (the DuckDB store server over Arrow Flight,
``grpc://`` / ``grpc+tls://``) and ``store.postgres.client.PostgresStore`` (``postgresql://``).
:func:`store.factory.open_store` picks one by the URL's scheme; callers outside this package
only ever see these protocols, the result types and :mod:`store.errors`, so nothing else
knows which backend is in use.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self, runtime_checkable

import pyarrow as pa

from store.client import ScanResult, StoreStats


@runtime_checkable
class JourneyStore(Protocol):
    """The journey store's operations; every failure is a :class:`store.errors.StoreError`."""

    location: str

    def upsert(self, data: pa.Table | pa.RecordBatch) -> int:
        """Insert or replace rows by primary key (validated; server stamps ``updated_at``)."""
        ...

    def lookup(self, customer_ids: Sequence[str], status: str = "all") -> pa.Table:
        """All journeys of these customers (JOURNEY_SCHEMA), by customer and priority."""
        ...

    def scan(self, status: str = "all") -> ScanResult:
        """One consistent snapshot, streamed, with its snapshot point and row count."""
        ...

    def purge(
        self, *, closed_before: datetime, snapshot_at: datetime, keys: pa.Table | None = None
    ) -> int:
        """Delete closed rows closed and last changed at/before the given points."""
        ...

    def stats(self) -> StoreStats:
        """Row counts by status, storage size and version."""
        ...

    def health(self) -> dict[str, Any]:
        """``{"status": "ok", ...}`` when the store answers."""
        ...

    def checkpoint(self) -> None:
        """Make the store write its log into its data files (admin)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@runtime_checkable
class AsyncJourneyStore(Protocol):
    """The operations async services use, awaited (see :class:`store.AsyncStoreClient`)."""

    async def upsert(self, data: pa.Table | pa.RecordBatch) -> int:
        """See :meth:`JourneyStore.upsert`."""
        ...

    async def lookup(self, customer_ids: Sequence[str], status: str = "all") -> pa.Table:
        """See :meth:`JourneyStore.lookup`."""
        ...

    async def scan(self, status: str = "all") -> ScanResult:
        """See :meth:`JourneyStore.scan` (read completely before it returns)."""
        ...

    async def purge(
        self, *, closed_before: datetime, snapshot_at: datetime, keys: pa.Table | None = None
    ) -> int:
        """See :meth:`JourneyStore.purge`."""
        ...

    async def stats(self) -> StoreStats:
        """See :meth:`JourneyStore.stats`."""
        ...

    async def health(self) -> dict[str, Any]:
        """See :meth:`JourneyStore.health`."""
        ...

    async def aclose(self) -> None:
        """Wait for running calls, then release connections."""
        ...
