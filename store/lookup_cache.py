"""A bounded read-through cache of each customer's journeys, invalidated by the store's writes.

DuckDB spends 2-4 ms of CPU on every lookup statement (preparing and executing it), which
bounds the request path (docs/performance.md). The store server is the only writer of its
table, so it knows exactly which customers a write changes and can keep their rows in memory:

- An entry is one customer's rows of every status (sorted like a lookup: priority, journey
  id), as a zero-copy slice of the lookup result that filled it; a customer without rows is
  cached too (empty), so repeated not-founds are cheap. The status filter is applied after.
- At most ``max_customers`` entries and ``max_bytes`` of rows (``nbytes`` of each entry's
  slice), least recently used evicted first; ``max_customers=0`` turns it off, ``max_bytes=0``
  drops the byte bound. An entry larger than an eighth of ``max_bytes`` is never stored, so
  one customer with a million journeys cannot flush everyone else.
- Correctness rule: every write bumps a generation when it starts and when it ends, and while
  it runs its customers are "being written". A lookup notes the generation before it queries
  its misses and stores them only if the generation is unchanged and none of them is being
  written: such a query ran while no write touching them was in flight, so its rows are the
  committed state and stay so until a write of theirs starts. A write removes its customers'
  entries when it ends (after DuckDB's commit, before the client is acknowledged), so a lookup
  that starts after an acknowledged write never sees the state before it, and a customer's
  reads never go back in time. Only a lookup of several customers that overlaps a write of
  several of them may see some before and some after that write (each customer's rows are
  always from one state).
- Memory: a slice keeps its whole fill result alive. When half the customers of a fill result
  are gone (evicted or invalidated), an entry of it that is hit again is copied into its own
  buffers, so hot entries stop pinning cold neighbours.

Every method is thread-safe; the lock is held only for dictionary work, never for Arrow work
or a query.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from journeys.schema import JOURNEY_SCHEMA

#: ``fetch(customer_ids, status)``: the uncached lookup, a JOURNEY_SCHEMA table sorted by
#: customer, priority, journey id.
Fetch = Callable[[list[str], str], pa.Table]


class _Segment:
    """One fill result: how many customers it was cut into and how many entries still use it."""

    __slots__ = ("customers", "live")

    def __init__(self, customers: int) -> None:
        self.customers = customers
        self.live = customers


@dataclass(frozen=True, slots=True)
class _Entry:
    rows: pa.RecordBatch
    segment: _Segment | None  # None: owns its buffers (empty, or compacted)
    nbytes: int = 0  # bytes of the rows this entry refers to (its slice, not the whole fill)

    def sparse(self) -> bool:
        """Its fill result is mostly dead weight: worth copying the rows out."""
        segment = self.segment
        return segment is not None and segment.live * 2 <= segment.customers

    def drop(self) -> None:
        if self.segment is not None:
            self.segment.live -= 1


_EMPTY_ENTRY: Final = _Entry(pa.RecordBatch.from_pylist([], schema=JOURNEY_SCHEMA), None)


@dataclass(frozen=True)
class LookupCacheStats:
    """Counters since start-up and the current number of cached customers."""

    hits: int
    misses: int
    invalidations: int
    fills_refused: int
    customers: int
    bytes: int = 0


class LookupCache:
    """Customer id → that customer's rows (all statuses), LRU-bounded, write-invalidated."""

    def __init__(self, max_customers: int, *, max_bytes: int = 0) -> None:
        if max_customers < 0:
            raise ValueError("max_customers must be >= 0 (0 turns the cache off)")
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0 (0: no byte bound)")
        self.max_customers = max_customers
        self.max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0
        self._writing: dict[str, int] = {}  # customer → writes in flight
        self._writing_all = 0  # writes in flight that may change any customer
        self._hits = 0
        self._misses = 0
        self._invalidations = 0
        self._fills_refused = 0

    @property
    def enabled(self) -> bool:
        """False when ``max_customers`` is 0: lookups go straight to the database."""
        return self.max_customers > 0

    # -- reads ---------------------------------------------------------------------------
    def lookup(self, customer_ids: Sequence[str], status: str, fetch: Fetch) -> pa.Table:
        """The rows ``fetch(customer_ids, status)`` would return, from the cache where it can.

        ``customer_ids`` must be distinct and ``status`` valid (the database checks both).
        Misses are fetched in one call (all statuses) and stored if no write interfered.
        """
        if not self.enabled:
            return fetch(list(customer_ids), status)
        hits, misses, generation = self._get(customer_ids)
        fetched: dict[str, _Entry] = {}
        if misses:
            table = fetch(misses, "all")
            fetched = _split_by_customer(table, misses)
            self._fill(fetched, generation)
            if not hits:
                return _with_status(table, status)
        result = _assemble(sorted(customer_ids), hits, fetched)
        self._compact(entry for entry in hits.items() if entry[1].sparse())
        return _with_status(result, status)

    def _get(self, customer_ids: Sequence[str]) -> tuple[dict[str, _Entry], list[str], int]:
        hits: dict[str, _Entry] = {}
        misses: list[str] = []
        with self._lock:
            generation = self._generation
            entries = self._entries
            for customer in customer_ids:
                entry = entries.get(customer)
                if entry is None:
                    misses.append(customer)
                else:
                    entries.move_to_end(customer)
                    hits[customer] = entry
            self._hits += len(hits)
            self._misses += len(misses)
        return hits, misses, generation

    def _fill(self, rows_by_customer: dict[str, _Entry], generation: int) -> None:
        """Store fetched entries if no write started or ended since ``generation``.

        Customers that a write in flight is changing are never stored.
        """
        with self._lock:
            if generation != self._generation or self._writing_all:
                self._fills_refused += 1
                return
            entries, writing = self._entries, self._writing
            largest = self.max_bytes // 8 if self.max_bytes else None
            for customer, entry in rows_by_customer.items():
                if customer in writing or (largest is not None and entry.nbytes > largest):
                    continue
                self._remove(customer)
                entries[customer] = entry
                self._bytes += entry.nbytes
            while len(entries) > self.max_customers or (
                self.max_bytes and self._bytes > self.max_bytes
            ):
                self._remove(next(iter(entries)))

    def _remove(self, customer: str) -> None:
        """Drop one entry (lock held)."""
        entry = self._entries.pop(customer, None)
        if entry is not None:
            entry.drop()
            self._bytes -= entry.nbytes

    def _compact(self, sparse: Iterable[tuple[str, _Entry]]) -> None:
        for customer, entry in sparse:
            # Copied outside the lock; swapped in only if nobody replaced the entry meanwhile.
            private = _Entry(pa.concat_batches([entry.rows]), None, entry.nbytes)
            with self._lock:
                if self._entries.get(customer) is entry:
                    self._entries[customer] = private
                    self._bytes += private.nbytes - entry.nbytes
                    entry.drop()

    # -- writes --------------------------------------------------------------------------
    @contextmanager
    def writing(self, customer_ids: pa.Array | pa.ChunkedArray | None) -> Iterator[None]:
        """Wrap a write of these customers (``None``: any customer); invalidates them after.

        Enter before the write starts and leave after it committed (or failed), before the
        client is acknowledged.
        """
        if not self.enabled:
            yield
            return
        customers = None if customer_ids is None else pc.unique(customer_ids).to_pylist()
        with self._lock:
            self._generation += 1
            if customers is None:
                self._writing_all += 1
            else:
                for customer in customers:
                    self._writing[customer] = self._writing.get(customer, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._generation += 1
                if customers is None:
                    self._writing_all -= 1
                    self._invalidations += len(self._entries)
                    self._clear()
                else:
                    self._end_write(customers)

    def _end_write(self, customers: list[str]) -> None:
        entries, writing = self._entries, self._writing
        for customer in customers:
            left = writing[customer] - 1
            if left:
                writing[customer] = left
            else:
                del writing[customer]
            if customer in entries:
                self._remove(customer)
                self._invalidations += 1

    def clear(self) -> None:
        """Forget every entry (and refuse fills of lookups already running)."""
        with self._lock:
            self._generation += 1
            self._invalidations += len(self._entries)
            self._clear()

    def _clear(self) -> None:
        for entry in self._entries.values():
            entry.drop()
        self._entries.clear()
        self._bytes = 0

    def stats(self) -> LookupCacheStats:
        """Counters and size, read together."""
        with self._lock:
            return LookupCacheStats(
                self._hits, self._misses, self._invalidations, self._fills_refused,
                len(self._entries), self._bytes,
            )  # fmt: skip


def _split_by_customer(table: pa.Table, customers: list[str]) -> dict[str, _Entry]:
    """One entry per requested customer: zero-copy slices of ``table`` (sorted by customer)."""
    entries = dict.fromkeys(customers, _EMPTY_ENTRY)
    if table.num_rows == 0:
        return entries
    batch = table.combine_chunks().to_batches()[0]
    runs = pc.run_end_encode(batch.column(0))
    found = runs.values.to_pylist()
    segment = _Segment(len(found))
    start = 0
    for customer, end in zip(found, runs.run_ends.to_pylist(), strict=True):
        rows = batch.slice(start, end - start)
        entries[customer] = _Entry(rows, segment, rows.nbytes)
        start = end
    return entries


def _assemble(ordered: list[str], hits: dict[str, _Entry], fetched: dict[str, _Entry]) -> pa.Table:
    """Concatenate the customers' rows in customer order: the order of an uncached lookup."""
    parts = []
    for customer in ordered:
        entry = hits.get(customer) or fetched[customer]
        if entry.rows.num_rows:
            parts.append(entry.rows)
    if not parts:
        return JOURNEY_SCHEMA.empty_table()
    return pa.Table.from_batches([parts[0] if len(parts) == 1 else pa.concat_batches(parts)])


def _with_status(table: pa.Table, status: str) -> pa.Table:
    if status == "all":
        return table
    return table.filter(pc.equal(table.column("status"), status))
