"""Prometheus metrics of the store server, served on ``--metrics-port``.

Latency, rows and errors are counted per call; rows by status and the database size are read
from the database when Prometheus scrapes (a custom collector), so they are never stale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from store.database import TableCounts
from store.lookup_cache import LookupCacheStats

_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0,
)  # fmt: skip


class _TableCollector(Collector):
    def __init__(self, counts: Callable[[], TableCounts]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[Metric]:
        counts = self._counts()
        rows = GaugeMetricFamily(
            "journeys_store_rows", "Rows in the journeys table", labels=["status"]
        )
        rows.add_metric(["open"], counts.rows_open)
        rows.add_metric(["closed"], counts.rows_closed)
        yield rows
        yield GaugeMetricFamily(
            "journeys_store_db_bytes", "Size of the database and WAL files", value=counts.db_bytes
        )


class _LookupCacheCollector(Collector):
    def __init__(self, stats: Callable[[], LookupCacheStats]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self._stats()
        prefix = "journeys_store_lookup_cache"
        for name, value, about in (
            ("hits", stats.hits, "Customers a lookup found in the cache"),
            ("misses", stats.misses, "Customers a lookup had to read from DuckDB"),
            ("invalidations", stats.invalidations, "Cached customers dropped by writes"),
        ):
            # Exposed as <name>_total (the client library adds the suffix to counters).
            yield CounterMetricFamily(f"{prefix}_{name}", about, value=value)
        yield GaugeMetricFamily(f"{prefix}_customers", "Customers cached", value=stats.customers)


class StoreMetrics:
    """The store's metrics in their own registry (no global state)."""

    def __init__(
        self,
        counts: Callable[[], TableCounts] | None = None,
        lookup_cache: Callable[[], LookupCacheStats] | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "journeys_store_call_seconds",
            "Store call latency by operation",
            ["operation"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rows = Counter(
            "journeys_store_rows_processed",
            "Rows by operation",
            ["operation"],
            registry=self.registry,
        )
        self.errors = Counter(
            "journeys_store_errors", "Failed calls by kind", ["kind"], registry=self.registry
        )
        if counts is not None:
            self.registry.register(_TableCollector(counts))
        if lookup_cache is not None:
            self.registry.register(_LookupCacheCollector(lookup_cache))

    def serve(self, port: int, host: str) -> None:
        """Expose ``/metrics`` over HTTP in a background thread."""
        start_http_server(port, addr=host, registry=self.registry)
