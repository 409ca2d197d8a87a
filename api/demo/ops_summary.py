"""What ``/ops/summary`` answers: live figures of the gateway and its peers over a short window.

Each call takes a :class:`Snapshot` (the gateway's own registry plus the scraped samples of every
peer), keeps it in an :class:`OpsHistory`, and compares it with the oldest snapshot still inside
the window: counters become per-second rates, histogram buckets become latency percentiles.
Gauges (in-flight, consumer lag, store rows) are shown as they are now. Everything here is pure;
:mod:`api.demo.ops_monitor` does the I/O.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from pydantic import BaseModel, Field

from api.demo.ops_samples import (
    Bucket,
    Samples,
    by_label,
    histogram_quantile,
    total,
    window_buckets,
    window_increase,
    window_increase_by_label,
)

#: The lookup route's template: the only route whose traffic the ops page counts.
LOOKUP_ROUTE: Final = "/v1/customers/{customer_id}/journeys"
#: Rates and percentiles cover at most this many seconds.
WINDOW_S: Final = 10.0
#: Below this span between two snapshots a rate is noise: report none yet.
MIN_SPAN_S: Final = 0.5
#: Bounds the history even when many pages poll at once.
MAX_SNAPSHOTS: Final = 256


class Names:
    """The samples ``/ops/summary`` reads, by process (a unit test checks each one exists)."""

    GATEWAY_REQUESTS: Final = "journeys_gateway_requests_total"
    GATEWAY_LATENCY: Final = "journeys_gateway_request_duration_seconds"
    GATEWAY_IN_FLIGHT: Final = "journeys_gateway_in_flight_requests"
    GATEWAY_SHED: Final = "journeys_gateway_shed_requests_total"
    GATEWAY_DROPPED: Final = "journeys_gateway_dropped_replies_total"
    GATEWAY_HEDGES_SENT: Final = "journeys_gateway_hedges_sent_total"
    GATEWAY_HEDGES_WON: Final = "journeys_gateway_hedges_won_total"
    RESPONDER_REQUESTS: Final = "journeys_responder_requests_total"
    RESPONDER_LAG: Final = "journeys_responder_consumer_lag"
    RESPONDER_REPLIES: Final = "journeys_responder_replies_total"
    RESPONDER_EXPIRED: Final = "journeys_responder_expired_requests_total"
    RESPONDER_DEAD_LETTERS: Final = "journeys_responder_dead_letters_total"
    STORE_ROWS: Final = "journeys_store_rows"
    STORE_DB_BYTES: Final = "journeys_store_db_bytes"


class LatencyPercentiles(BaseModel):
    """End-to-end lookup latency at the gateway over the window (None: no lookups)."""

    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None


class StatusFigures(BaseModel):
    """Lookups answered with one HTTP status."""

    status: str
    per_s: float | None = Field(description="Rate over the window; None while warming up.")
    total: int = Field(description="Since the gateway started.")


class GatewayFigures(BaseModel):
    """The gateway's own figures (from its registry)."""

    lookups_per_s: float | None
    errors_per_s: float | None = Field(description="Lookups answered 4xx or 5xx, per second.")
    latency: LatencyPercentiles
    statuses: list[StatusFigures]
    lookups_total: int
    in_flight: int
    shed_total: dict[str, int] = Field(description="429/503/504 answers by reason.")
    dropped_replies_total: dict[str, int]
    hedges_sent_total: int = Field(description="Second copies sent to another partition.")
    hedges_won_total: int = Field(description="Hedged lookups answered by their second copy.")


class ResponderFigures(BaseModel):
    """Figures summed over every peer that exposes responder metrics."""

    requests_per_s: float | None
    consumer_lag: dict[str, int] = Field(description="Messages behind, by partition.")
    lag_total: int
    expired_total: int
    dead_letters_total: int
    replies_total: dict[str, int] = Field(description="Replies by reply status.")


class StoreFigures(BaseModel):
    """Rows in the journeys table, as the store server counts them when scraped."""

    rows_open: int
    rows_closed: int
    db_bytes: int | None


class PeerStatus(BaseModel):
    """One metrics endpoint the gateway scrapes; ``up`` is False when it did not answer."""

    name: str
    url: str
    up: bool
    error: str | None = None


class OpsSummary(BaseModel):
    """The body of ``/ops/summary``."""

    generated_at: datetime
    window_s: float | None = Field(description="Span the rates cover; None while warming up.")
    gateway: GatewayFigures
    responder: ResponderFigures | None = Field(description="None when no responder answers.")
    store: StoreFigures | None = Field(description="None when no store server answers.")
    peers: list[PeerStatus]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every sample at one moment: ``at`` is ``time.monotonic()``; a down peer maps to None."""

    at: float
    gateway: Samples
    peers: Mapping[str, Samples | None] = field(default_factory=dict)

    def up_peers(self) -> dict[str, Samples]:
        """The peers that answered."""
        return {name: samples for name, samples in self.peers.items() if samples is not None}


class OpsHistory:
    """Recent snapshots, so that each new one has a baseline about one window old."""

    def __init__(self, window_s: float = WINDOW_S, min_span_s: float = MIN_SPAN_S) -> None:
        self.window_s = window_s
        self.min_span_s = min_span_s
        self._snapshots: deque[Snapshot] = deque(maxlen=MAX_SNAPSHOTS)

    def add(self, snapshot: Snapshot) -> Snapshot | None:
        """Keep ``snapshot``; answer the oldest kept one within the window, if old enough."""
        while self._snapshots and self._snapshots[0].at < snapshot.at - self.window_s:
            self._snapshots.popleft()
        baseline = self._snapshots[0] if self._snapshots else None
        self._snapshots.append(snapshot)
        if baseline is None or snapshot.at - baseline.at < self.min_span_s:
            return None
        return baseline


def _int(value: float | None) -> int:
    return round(value) if value is not None else 0


def _ints(values: Mapping[str, float]) -> dict[str, int]:
    return {key: round(value) for key, value in sorted(values.items())}


def _percentiles(buckets: list[Bucket]) -> LatencyPercentiles:
    def ms(q: float) -> float | None:
        seconds = histogram_quantile(q, buckets)
        return None if seconds is None else seconds * 1000

    return LatencyPercentiles(p50_ms=ms(0.5), p90_ms=ms(0.9), p99_ms=ms(0.99))


def _gateway(now: Samples, before: Samples | None, span: float | None) -> GatewayFigures:
    requests = Names.GATEWAY_REQUESTS
    totals = by_label(now, requests, "status", route=LOOKUP_ROUTE)
    grown: dict[str, float] = {}
    latency = LatencyPercentiles(p50_ms=None, p90_ms=None, p99_ms=None)
    if before is not None and span is not None:
        grown = window_increase_by_label(now, before, requests, "status", route=LOOKUP_ROUTE)
        buckets = window_buckets(now, before, Names.GATEWAY_LATENCY, route=LOOKUP_ROUTE)
        latency = _percentiles(buckets)
    statuses = [
        StatusFigures(
            status=status,
            per_s=grown.get(status, 0.0) / span if span else None,
            total=round(count),
        )
        for status, count in sorted(totals.items())
    ]
    return GatewayFigures(
        lookups_per_s=sum(grown.values()) / span if span else None,
        errors_per_s=(
            sum(v for status, v in grown.items() if int(status) >= 400) / span if span else None
        ),
        latency=latency,
        statuses=statuses,
        lookups_total=round(sum(totals.values())),
        in_flight=_int(total(now, Names.GATEWAY_IN_FLIGHT)),
        shed_total=_ints(by_label(now, Names.GATEWAY_SHED, "reason")),
        dropped_replies_total=_ints(by_label(now, Names.GATEWAY_DROPPED, "reason")),
        hedges_sent_total=_int(total(now, Names.GATEWAY_HEDGES_SENT)),
        hedges_won_total=_int(total(now, Names.GATEWAY_HEDGES_WON)),
    )


def _responder(
    now: dict[str, Samples], before: dict[str, Samples], span: float | None
) -> ResponderFigures | None:
    consumed = Names.RESPONDER_REQUESTS
    peers = {name: s for name, s in now.items() if consumed in s}
    if not peers:
        return None
    lag: dict[str, float] = {}
    replies: dict[str, float] = {}
    for samples in peers.values():
        for partition, behind in by_label(samples, Names.RESPONDER_LAG, "partition").items():
            lag[partition] = lag.get(partition, 0.0) + behind
        for status, count in by_label(samples, Names.RESPONDER_REPLIES, "status").items():
            replies[status] = replies.get(status, 0.0) + count
    # A peer that was down at the baseline has no rate yet; the others still count.
    rate: float | None = None
    if span:
        rate = (
            sum(
                window_increase(samples, before[name], consumed)
                for name, samples in peers.items()
                if name in before
            )
            / span
        )
    return ResponderFigures(
        requests_per_s=rate,
        consumer_lag={p: round(v) for p, v in sorted(lag.items(), key=lambda kv: int(kv[0]))},
        lag_total=round(sum(lag.values())),
        expired_total=round(sum(_int(total(s, Names.RESPONDER_EXPIRED)) for s in peers.values())),
        dead_letters_total=round(
            sum(_int(total(s, Names.RESPONDER_DEAD_LETTERS)) for s in peers.values())
        ),
        replies_total=_ints(replies),
    )


def _store(now: dict[str, Samples]) -> StoreFigures | None:
    stores = [samples for samples in now.values() if Names.STORE_ROWS in samples]
    if not stores:
        return None
    db_bytes = [value for s in stores if (value := total(s, Names.STORE_DB_BYTES)) is not None]
    return StoreFigures(
        rows_open=sum(_int(total(s, Names.STORE_ROWS, status="open")) for s in stores),
        rows_closed=sum(_int(total(s, Names.STORE_ROWS, status="closed")) for s in stores),
        db_bytes=round(sum(db_bytes)) if db_bytes else None,
    )


def summarise(
    now: Snapshot, baseline: Snapshot | None, peers: list[PeerStatus], generated_at: datetime
) -> OpsSummary:
    """The figures of ``now``, with rates and percentiles since ``baseline`` (None: none yet)."""
    span = now.at - baseline.at if baseline is not None else None
    before_peers = baseline.up_peers() if baseline is not None else {}
    return OpsSummary(
        generated_at=generated_at,
        window_s=span,
        gateway=_gateway(now.gateway, baseline.gateway if baseline else None, span),
        responder=_responder(now.up_peers(), before_peers, span),
        store=_store(now.up_peers()),
        peers=peers,
    )
