"""Prometheus metrics of one responder process, served on ``/metrics`` when a port is set.

Each :class:`ResponderMetrics` owns its own registry, so several responders (or tests) in one
process do not clash; :func:`serve_metrics` exposes that registry over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from responder.batch import BatchResult

_BATCH_BUCKETS: Final = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
_STORE_BUCKETS: Final = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class ResponderMetrics:
    """Counters, histograms and gauges of the request loop."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "journeys_responder_requests", "Request messages consumed.", registry=r
        )
        self.replies = Counter(
            "journeys_responder_replies", "Replies produced, by status.", ["status"], registry=r
        )
        self.expired = Counter(
            "journeys_responder_expired_requests",
            "Requests not looked up because their deadline had passed when polled.",
            registry=r,
        )
        self.dead_letters = Counter(
            "journeys_responder_dead_letters",
            "Messages sent to the dead-letter topic.",
            registry=r,
        )
        self.batch_size = Histogram(
            "journeys_responder_batch_size",
            "Records per poll.",
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.store_seconds = Histogram(
            "journeys_responder_store_call_seconds",
            "Store call latency, by operation and outcome.",
            ["operation", "outcome"],
            buckets=_STORE_BUCKETS,
            registry=r,
        )
        self.lag = Gauge(
            "journeys_responder_consumer_lag",
            "Messages behind the partition's end (highwater - position).",
            ["topic", "partition"],
            registry=r,
        )
        self.produce_failures = Counter(
            "journeys_responder_produce_failures",
            "Batches whose replies could not all be produced (re-read, not committed).",
            registry=r,
        )
        self.producer_replacements = Counter(
            "journeys_responder_producer_replacements",
            "Producers replaced because their sequence numbers no longer matched the broker's.",
            registry=r,
        )
        self.oversized_dropped = Counter(
            "journeys_responder_oversized_dropped",
            "Replies or dead letters Kafka refused as too large, dropped (never re-read).",
            registry=r,
        )
        self.commit_failures = Counter(
            "journeys_responder_commit_failures",
            "Offset commits that failed (the batch may be answered again).",
            registry=r,
        )

    def record_batch(self, result: BatchResult) -> None:
        """Count what one batch did."""
        self.requests.inc(result.consumed)
        self.batch_size.observe(result.consumed)
        self.expired.inc(result.expired)
        self.dead_letters.inc(len(result.dead_letters))
        for status, count in result.statuses.items():
            self.replies.labels(status=status.value).inc(count)
        for seconds, outcome in result.store_calls:
            self.store_seconds.labels(operation="lookup", outcome=outcome).observe(seconds)

    def set_lag(self, lag: Mapping[tuple[str, int], int]) -> None:
        """Replace the lag gauges with ``lag`` ((topic, partition) -> messages behind)."""
        self.lag.clear()
        for (topic, partition), behind in lag.items():
            self.lag.labels(topic=topic, partition=str(partition)).set(behind)


@contextmanager
def serve_metrics(metrics: ResponderMetrics, host: str, port: int) -> Iterator[int | None]:
    """Serve ``/metrics`` on ``host:port`` while inside the block (port 0 = do not serve).

    Yields the bound port, or None when off.
    """
    if port == 0:
        yield None
        return
    server, thread = start_http_server(port, addr=host, registry=metrics.registry)
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
