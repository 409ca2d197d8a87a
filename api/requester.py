"""One lookup: an HTTP request becomes a Kafka request, and its correlated reply an answer.

The request path, in order: refuse at once when over the in-flight bound (429) or not connected
(503); register the correlation id; send the request with key = customer id and the contract
headers, and await its reply until the deadline, hedging to another partition when it is slow
and rerouting a copy whose send failed (:mod:`api.exchange`); Kafka accepting no copy by the
deadline is a 503, no reply a 504; map the reply status. A partition whose first copies keep
losing to their hedges is avoided for a while (:mod:`api.partition_breaker`): requests keyed to
it are spread over the other partitions at once. If the broker lost the reply log meanwhile
(see :class:`api.reply_router.RepliesLost`), send the same request again, at most
``MAX_RESENDS`` times, still bounded by the first deadline.
Replies are decoded with orjson and checked just enough to answer (status, journeys list,
priorities): the responder validated every journey against the contract, so re-validating them
with pydantic per request would only add latency.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import orjson

from api.answer_cache import AnswerCache
from api.errors import (
    BackendUnavailable,
    BadReply,
    CustomerNotFound,
    DeadlineExceeded,
    GatewayError,
    KafkaUnavailable,
    Overloaded,
    ReplyTooLarge,
    RequestRejected,
)
from api.exchange import Copy, Exchange, is_unavailable
from api.hedging import Hedger
from api.kafka_link import Link
from api.metrics import GatewayMetrics
from api.partition_breaker import PartitionBreaker, key_hash
from api.reply_router import RepliesLost, ReplyRouter
from api.settings import GatewaySettings
from api.tracing import outgoing_traceparent
from journeys.contract import CONTRACT_VERSION, Header, ReplyStatus, StatusFilter
from journeys.observability import bind_correlation_id

_VERSION_HEADER = str(CONTRACT_VERSION).encode()
log = logging.getLogger(__name__)
#: Times one lookup is sent again after its reply log was lost (a broker that keeps losing
#: its log within one deadline is not worth more).
MAX_RESENDS = 2


@dataclass(frozen=True, slots=True)
class LookupResult:
    """A successful lookup: the journeys sorted by priority, as plain JSON-ready dicts."""

    customer_id: str
    status: StatusFilter
    journeys: list[dict[str, Any]]
    correlation_id: str
    traceparent: str | None

    def body(self) -> bytes:
        """The HTTP response body (see :class:`api.models.CustomerJourneys`)."""
        return orjson.dumps(
            {"customer_id": self.customer_id, "status": self.status, "journeys": self.journeys}
        )


class Requester:
    """Sends lookups over a :class:`Link` and awaits their replies via a :class:`ReplyRouter`."""

    def __init__(
        self,
        settings: GatewaySettings,
        link: Link,
        router: ReplyRouter,
        metrics: GatewayMetrics,
    ) -> None:
        self._link = link
        self._router = router
        self._metrics = metrics
        self._topic_partition_header = str(settings.reply_partition).encode()
        self._requester_id_header = router.instance_id.encode()
        self._deadline_s = settings.deadline_s
        self._max_in_flight = settings.max_in_flight
        self._in_flight = 0
        self._hedger = Hedger(settings.hedge_config())
        self._breaker = PartitionBreaker(
            settings.breaker_config(), on_change=self._metrics.open_partitions.set
        )
        metrics.hedge_delay.set(self._hedger.delay_s())
        self._answers: AnswerCache[LookupResult] = AnswerCache(
            settings.micro_cache_ms / 1000,
            settings.micro_cache_entries,
            on_hit=metrics.micro_cache_hits.inc,
            on_shared=metrics.micro_cache_shared.inc,
        )

    @property
    def hedger(self) -> Hedger:
        """The hedging policy and budget of this gateway."""
        return self._hedger

    @property
    def breaker(self) -> PartitionBreaker:
        """Which request partitions first copies avoid right now."""
        return self._breaker

    @property
    def in_flight(self) -> int:
        """Lookups currently awaiting Kafka."""
        return self._in_flight

    async def lookup(
        self, customer_id: str, status: StatusFilter, traceparent: str | None = None
    ) -> LookupResult:
        """Look up one customer's journeys; raises a :class:`GatewayError` subclass. With the
        micro-cache on, a recent answer or the same lookup in flight may answer it."""
        if not self._answers.enabled:
            return await self._lookup(customer_id, status, traceparent)
        own: list[LookupResult] = []

        async def fetch() -> LookupResult:
            own.append(await self._lookup(customer_id, status, traceparent))
            return own[0]

        answer = await self._answers.get((customer_id, status), fetch)
        # Another lookup's answer: no Kafka request was sent for this one, so no trace context.
        return answer if own else replace(answer, traceparent=None)

    async def _lookup(
        self, customer_id: str, status: StatusFilter, traceparent: str | None
    ) -> LookupResult:
        if self._in_flight >= self._max_in_flight:
            raise Overloaded(
                f"more than {self._max_in_flight} lookups in flight on this gateway; retry later"
            )
        if not self._link.connected():
            raise KafkaUnavailable("the gateway is not connected to Kafka; retry later")
        self._in_flight += 1
        self._metrics.in_flight.inc()
        try:
            return await self._round_trip(customer_id, status, outgoing_traceparent(traceparent))
        finally:
            self._in_flight -= 1
            self._metrics.in_flight.dec()

    async def _round_trip(
        self, customer_id: str, status: StatusFilter, traceparent: str | None
    ) -> LookupResult:
        loop = asyncio.get_running_loop()
        deadline_loop = loop.time() + self._deadline_s
        deadline_ms = int((time.time() + self._deadline_s) * 1000)
        correlation_id = uuid.uuid4().hex
        bind_correlation_id(correlation_id)
        value = orjson.dumps({"v": CONTRACT_VERSION, "customer_id": customer_id, "status": status})
        headers = [
            (Header.CORRELATION_ID, correlation_id.encode()),
            (Header.REPLY_PARTITION, self._topic_partition_header),
            (Header.DEADLINE, str(deadline_ms).encode()),
            (Header.CONTRACT_VERSION, _VERSION_HEADER),
            (Header.REQUESTER_ID, self._requester_id_header),
        ]
        if traceparent is not None:
            headers.append((Header.TRACEPARENT, traceparent.encode()))
        key = customer_id.encode()
        partitions = self._link.request_partitions()
        hashed = key_hash(key)
        copy = Copy(key, value, headers, self._route(hashed, partitions), hashed // partitions)
        try:
            started = loop.time()
            for resends in range(MAX_RESENDS + 1):
                if resends == 0:
                    self._hedger.earn()
                try:
                    raw = await self._exchange(correlation_id, copy).run(deadline_loop)
                except RepliesLost:
                    if resends == MAX_RESENDS:
                        raise self._no_reply(correlation_id) from None
                    self._metrics.resent.inc()
                    continue
                # Only first-copy round trips feed the hedge delay: resent ones would pull it up.
                round_trip_s = None if resends else loop.time() - started
                self._answered(correlation_id, copy.partition, raw, round_trip_s)
                break
        except (DeadlineExceeded, KafkaUnavailable):
            self._strike(copy.partition)
            raise
        finally:
            self._router.forget(correlation_id)
        journeys = _answer(raw, customer_id, status)
        return LookupResult(customer_id, status, journeys, correlation_id, traceparent)

    def _exchange(self, correlation_id: str, copy: Copy) -> Exchange:
        return Exchange(
            correlation_id,
            copy,
            link=self._link,
            router=self._router,
            hedger=self._hedger,
            breaker=self._breaker,
            metrics=self._metrics,
            deadline_s=self._deadline_s,
        )

    def _answered(
        self, correlation_id: str, sent_to: int, raw: bytes, round_trip_s: float | None
    ) -> None:
        """Record who answered: the hedge or an ``unavailable`` reply (a strike against
        ``sent_to``), or the first copy."""
        if self._router.answered_by_hedge(correlation_id):
            self._metrics.hedges_won.inc()
            self._strike(sent_to)
            return
        if is_unavailable(raw):
            self._strike(sent_to)  # quick, but no answer: that responder cannot reach the store
            return
        self._breaker.answered(sent_to)
        if round_trip_s is not None:
            self._hedger.observe(round_trip_s)

    def _route(self, hashed: int, partitions: int) -> int:
        """The partition a first copy goes to: the key's, unless the breaker avoids it."""
        primary = hashed % partitions
        if not self._breaker.any_open():
            return primary
        routed = self._breaker.route(primary, partitions, hashed // partitions)
        if routed != primary:
            self._metrics.rerouted.inc()
        return routed

    def _strike(self, partition: int) -> None:
        self._breaker.struck(partition, self._link.request_partitions())

    def _no_reply(self, correlation_id: str) -> DeadlineExceeded:
        return DeadlineExceeded(
            f"no reply within {self._deadline_s * 1000:.0f} ms (correlation id {correlation_id})"
        )


def _answer(raw: bytes, customer_id: str, status: StatusFilter) -> list[dict[str, Any]]:
    """Map a reply value to the journeys (sorted by priority) or the matching GatewayError."""
    try:
        reply = orjson.loads(raw)
        reply_status = ReplyStatus(reply["status"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise BadReply("the responder sent a reply this gateway cannot read") from exc
    error = reply.get("error")
    # Defence in depth: a reply on our partition with our correlation id but another
    # customer's journeys (a faulty or hostile writer) must never reach this caller.
    # (Error replies to undecodable requests carry no customer id; an ``ok`` one always does.)
    answered_for = reply.get("customer_id")
    if answered_for != customer_id and (answered_for is not None or reply_status is ReplyStatus.OK):
        raise BadReply("the responder's reply names another customer")
    if reply_status is ReplyStatus.OK:
        journeys = reply.get("journeys")
        if not isinstance(journeys, list):
            raise BadReply("the responder's reply has no journeys list")
        if not journeys:
            raise CustomerNotFound(_not_found(customer_id, status))
        try:
            journeys.sort(key=lambda journey: (journey["priority"], journey["journey_id"]))
            foreign = any(
                journey.get("customer_id", customer_id) != customer_id for journey in journeys
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise BadReply("the responder's reply has journeys without priority") from exc
        if foreign:
            raise BadReply("the responder's reply names another customer")
        return journeys
    if reply_status is ReplyStatus.INVALID and isinstance(error, str) and error:
        raise RequestRejected(error)
    # Other error texts stay inside: they may name internal hosts, and this answer leaves the DMZ.
    raise _ERRORS[reply_status](_DEFAULT_DETAIL[reply_status](customer_id, status))


def _not_found(customer_id: str, status: StatusFilter) -> str:
    which = "" if status is StatusFilter.ALL else f"{status.value} "
    return f"customer {customer_id} has no {which}journeys"


_ERRORS: dict[ReplyStatus, type[GatewayError]] = {
    ReplyStatus.NOT_FOUND: CustomerNotFound,
    ReplyStatus.INVALID: RequestRejected,
    ReplyStatus.UNAVAILABLE: BackendUnavailable,
    ReplyStatus.EXPIRED: DeadlineExceeded,
    ReplyStatus.TOO_LARGE: ReplyTooLarge,
}
_DEFAULT_DETAIL: dict[ReplyStatus, Callable[[str, StatusFilter], str]] = {
    ReplyStatus.NOT_FOUND: _not_found,
    ReplyStatus.INVALID: lambda cid, _s: f"the request for customer {cid} was rejected",
    ReplyStatus.UNAVAILABLE: lambda _c, _s: "the journey store is unavailable; retry later",
    ReplyStatus.EXPIRED: lambda _c, _s: "the request expired before it was looked up",
    ReplyStatus.TOO_LARGE: lambda cid, _s: (
        f"the journeys of customer {cid} exceed this service's reply size limit; "
        "a narrower status filter may fit (retrying the same request does not help)"
    ),
}
