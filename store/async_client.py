"""``AsyncStoreClient``: the StoreClient's calls as coroutines, for async services.

``pyarrow.flight`` blocks, so each call runs in a small ThreadPoolExecutor owned by this
client. A semaphore of the same size bounds the calls in flight, so the executor's queue never
grows: extra callers wait (as coroutines) for a free worker.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

import pyarrow as pa

from store.client import ScanResult, StoreStats

if TYPE_CHECKING:
    from store.interface import JourneyStore

T = TypeVar("T")


class AsyncStoreClient:
    """Same operations as :class:`StoreClient`, awaited; use ``async with`` or ``aclose()``.

    ``client`` may be any :class:`~store.interface.JourneyStore` (see
    :func:`store.factory.open_async_store`).
    """

    def __init__(self, client: JourneyStore, *, max_workers: int = 4) -> None:
        """Wrap ``client`` (closed by :meth:`aclose`); at most ``max_workers`` calls at once."""
        self.client = client
        self._executor = ThreadPoolExecutor(max_workers, thread_name_prefix="store-client")
        self._slots = asyncio.Semaphore(max_workers)
        self._closed = False

    async def _run(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._closed:
            raise RuntimeError("AsyncStoreClient is closed")
        async with self._slots:
            loop = asyncio.get_running_loop()
            # run_in_executor does not carry context variables; the trace context must go along.
            context = contextvars.copy_context()
            return await loop.run_in_executor(
                self._executor, lambda: context.run(call, *args, **kwargs)
            )

    async def upsert(self, data: pa.Table | pa.RecordBatch) -> int:
        """See :meth:`StoreClient.upsert`."""
        return await self._run(self.client.upsert, data)

    async def lookup(self, customer_ids: Sequence[str], status: str = "all") -> pa.Table:
        """See :meth:`StoreClient.lookup`."""
        return await self._run(self.client.lookup, list(customer_ids), status)

    async def scan(self, status: str = "all") -> ScanResult:
        """See :meth:`StoreClient.scan`; the snapshot is read completely in the worker thread."""

        def read() -> ScanResult:
            result = self.client.scan(status)
            table = result.read_all()
            return ScanResult(result.snapshot_at_us, result.row_count, iter(table.to_batches()))

        return await self._run(read)

    async def purge(
        self, *, closed_before: datetime, snapshot_at: datetime, keys: pa.Table | None = None
    ) -> int:
        """See :meth:`StoreClient.purge`."""
        return await self._run(
            self.client.purge, closed_before=closed_before, snapshot_at=snapshot_at, keys=keys
        )

    async def stats(self) -> StoreStats:
        """See :meth:`StoreClient.stats`."""
        return await self._run(self.client.stats)

    async def health(self) -> dict[str, Any]:
        """See :meth:`StoreClient.health`."""
        return await self._run(self.client.health)

    async def aclose(self) -> None:
        """Wait for running calls (each bounded by its timeout), then close the connection."""
        if self._closed:
            return
        self._closed = True
        await asyncio.to_thread(self._executor.shutdown, wait=True)
        self.client.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
