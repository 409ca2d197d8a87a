"""Prometheus metrics of one gateway app, served at ``/metrics`` by the app itself.

Each app gets its own :class:`~prometheus_client.CollectorRegistry`, so several apps (tests, two
gateways in one process) never clash. Route labels are route templates, never raw paths, so
customer ids do not explode the label space.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE_LATEST
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from api.reply_router import DROP_REASONS

#: Latency buckets (seconds): fine below 50 ms where the service lives, coarse up to deadlines.
LATENCY_BUCKETS: Final = (
    0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075,
    0.1, 0.25, 0.5, 1.0, 2.0, 5.0,
)  # fmt: skip

#: Why a request was shed, by HTTP status.
SHED_REASONS: Final = {429: "overloaded", 503: "unavailable", 504: "deadline"}


class GatewayMetrics:
    """The gateway's counters, gauges and histograms in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "journeys_gateway_requests",
            "HTTP requests answered, by route template and status code.",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "journeys_gateway_request_duration_seconds",
            "End-to-end time from request arrival to response start, by route template.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "journeys_gateway_in_flight_requests",
            "Lookups awaiting their Kafka reply right now.",
            registry=self.registry,
        )
        self.shed = Counter(
            "journeys_gateway_shed_requests",
            "Lookups answered 429 (overloaded), 503 (unavailable) or 504 (deadline).",
            ["reason"],
            registry=self.registry,
        )
        self.replies = Counter(
            "journeys_gateway_replies",
            "Replies matched to a waiting request.",
            registry=self.registry,
        )
        self.dropped_replies = Counter(
            "journeys_gateway_dropped_replies",
            "Replies dropped: late (request gone), unknown (never sent here), duplicate, foreign "
            "(another gateway's requester id), previous (asked by this gateway's previous "
            "process) or without a correlation id.",
            ["reason"],
            registry=self.registry,
        )
        self.hedges_sent = Counter(
            "journeys_gateway_hedges_sent",
            "Second copies of slow requests sent to another request partition.",
            registry=self.registry,
        )
        self.hedges_won = Counter(
            "journeys_gateway_hedges_won",
            "Hedged requests answered by the reply to their second copy.",
            registry=self.registry,
        )
        self.hedges_skipped = Counter(
            "journeys_gateway_hedges_skipped",
            "Hedges not sent: the budget was spent (budget) or the send failed (send_failed).",
            ["reason"],
            registry=self.registry,
        )
        self.hedge_delay = Gauge(
            "journeys_gateway_hedge_delay_seconds",
            "Current hedge delay: recent p95 round trip within the configured floor and ceiling.",
            registry=self.registry,
        )
        for reason in ("budget", "send_failed"):
            self.hedges_skipped.labels(reason)
        self.rerouted = Counter(
            "journeys_gateway_rerouted_requests",
            "First copies sent to the next request partition because the key's partition "
            "stopped answering (api/partition_breaker.py).",
            registry=self.registry,
        )
        self.open_partitions = Gauge(
            "journeys_gateway_avoided_partitions",
            "Request partitions first copies currently avoid (probed once per interval).",
            registry=self.registry,
        )
        self.resent = Counter(
            "journeys_gateway_resent_requests",
            "Lookups sent again because the broker lost the reply log under them.",
            registry=self.registry,
        )
        self.reply_log_lost = Counter(
            "journeys_gateway_reply_log_lost",
            "Times Kafka answered 'offset out of range' on the reply partition (the log was "
            "lost) and the reader read it again from its start.",
            registry=self.registry,
        )
        self.micro_cache_hits = Counter(
            "journeys_gateway_micro_cache_hits",
            "Lookups answered from the opt-in micro-cache (no Kafka round trip).",
            registry=self.registry,
        )
        self.micro_cache_shared = Counter(
            "journeys_gateway_micro_cache_shared",
            "Lookups that waited for the same lookup in flight (micro-cache on).",
            registry=self.registry,
        )
        for reason in SHED_REASONS.values():
            self.shed.labels(reason)
        for reason in DROP_REASONS:
            self.dropped_replies.labels(reason)

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        """Count one answered HTTP request."""
        self.requests.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def count_shed(self, status: int) -> None:
        """Count a lookup answered 429, 503 or 504 (other statuses are ignored)."""
        reason = SHED_REASONS.get(status)
        if reason is not None:
            self.shed.labels(reason).inc()

    def count_reply(self, outcome: str) -> None:
        """Count one reply from the replies partition: ``matched`` or a drop reason."""
        if outcome == "matched":
            self.replies.inc()
        else:
            self.dropped_replies.labels(outcome).inc()

    def exposition(self) -> bytes:
        """The text exposition format of every metric in this registry."""
        return generate_latest(self.registry)
