"""The responder's work on one poll: classify, look up once, build replies and dead letters.

:class:`BatchHandler` has no Kafka in it: it takes records and returns the messages to produce,
so the rules are unit-tested with a fake store. Per batch:

1. every record is parsed (:func:`responder.inbound.parse_record`);
2. requests whose ``deadline`` has passed are not looked up; they get an ``expired`` reply
   (when ``reply_expired``; a gateway counts it as late, a CLI client learns why) and are
   counted;
3. records that fail validation go to the DLQ with a ``reason`` header, and get an
   ``invalid`` reply when their correlation id and reply partition are usable;
4. the distinct customers of the valid requests are looked up in one store call per status
   filter asked for (usually just ``open``; the calls run concurrently), so the store only
   returns rows someone asked for. Each call is retried within the LATEST deadline of its
   requests (bounded by the policy): one request near its deadline no longer shrinks the
   budget of the others. If the store fails, each of those requests gets ``unavailable``;
5. a request whose deadline passed while the store was asked gets ``expired`` (its gateway
   has stopped waiting); the others get ``ok`` (journeys sorted by priority) or
   ``not_found``, or ``too_large`` when the customer has more than ``max_journeys`` journeys
   or the reply would exceed ``max_reply_bytes`` (so a reply always fits the producer's limit).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

import pyarrow as pa

from journeys.contract import ReplyStatus, StatusFilter
from responder.dead_letters import dead_letter
from responder.inbound import (
    Expired,
    InboundRecord,
    InboundRequest,
    Rejection,
    Routing,
    parse_record,
)
from responder.replies import JourneyIndex, Outbound, Row, reply
from responder.store_lookup import (
    JourneyLookup,
    LookupAttempts,
    RetryPolicy,
    lookup_with_retry,
)
from store import StoreError

log = logging.getLogger(__name__)

#: What an ``unavailable`` reply says; store details stay on this side of the DMZ.
STORE_UNAVAILABLE_ERROR: Final = "the journey store is unavailable; try again later"
EXPIRED_ERROR: Final = "the request's deadline passed before it was handled"


@dataclass(frozen=True, slots=True)
class ReplyLimits:
    """Size caps that keep every produced message under the producer's ``max_request_size``."""

    max_journeys: int = 1_000
    max_reply_bytes: int = 1_000_000
    max_dead_letter_bytes: int = 65_536


def epoch_ms() -> int:
    """Wall-clock time in epoch milliseconds (deadlines are absolute epoch ms)."""
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class BatchResult:
    """The messages to produce for one batch and what happened, for metrics and logs."""

    replies: list[Outbound] = field(default_factory=list)
    dead_letters: list[Outbound] = field(default_factory=list)
    statuses: Counter[ReplyStatus] = field(default_factory=Counter)
    consumed: int = 0
    expired: int = 0
    customers_looked_up: int = 0
    store_calls: list[tuple[float, str]] = field(default_factory=list)

    @property
    def messages(self) -> list[Outbound]:
        """Replies then dead letters, in the order they are produced."""
        return [*self.replies, *self.dead_letters]


class BatchHandler:
    """Turns one poll's records into replies and dead letters (see the module docstring)."""

    def __init__(
        self,
        store: JourneyLookup,
        *,
        replies_topic: str,
        dlq_topic: str,
        reply_partitions: int,
        policy: RetryPolicy,
        reply_margin_ms: int = 20,
        reply_expired: bool = True,
        limits: ReplyLimits | None = None,
        clock_ms: Callable[[], int] = epoch_ms,
    ) -> None:
        self._store = store
        self._replies_topic = replies_topic
        self._dlq_topic = dlq_topic
        self.reply_partitions = reply_partitions
        self._policy = policy
        self._reply_margin_ms = reply_margin_ms
        self._reply_expired = reply_expired
        self.limits = limits if limits is not None else ReplyLimits()
        self._clock_ms = clock_ms

    async def handle(self, records: Sequence[InboundRecord]) -> BatchResult:
        """Classify ``records``, do the batch's one store lookup, and build every message."""
        result = BatchResult(consumed=len(records))
        now_ms = self._clock_ms()
        valid: list[InboundRequest] = []
        for record in records:
            parsed = parse_record(record, reply_partitions=self.reply_partitions, now_ms=now_ms)
            if isinstance(parsed, InboundRequest):
                valid.append(parsed)
            elif isinstance(parsed, Expired):
                result.expired += 1
                if self._reply_expired:
                    self._reply(
                        result, parsed.routing, ReplyStatus.EXPIRED, None, error=EXPIRED_ERROR
                    )
            else:
                self._reject(result, record, parsed)
        if valid:
            await self._answer(result, valid, now_ms)
        return result

    def _reject(self, result: BatchResult, record: InboundRecord, rejection: Rejection) -> None:
        log.warning(
            "dead-lettering %s[%d]@%d: %s",
            record.topic,
            record.partition,
            record.offset,
            rejection.reason,
        )
        result.dead_letters.append(
            dead_letter(
                self._dlq_topic,
                record,
                rejection.reason,
                max_bytes=self.limits.max_dead_letter_bytes,
            )
        )
        if rejection.routing is not None:
            self._reply(
                result, rejection.routing, ReplyStatus.INVALID, None, error=rejection.reason
            )

    async def _answer(
        self, result: BatchResult, requests: list[InboundRequest], now_ms: int
    ) -> None:
        by_status: dict[StatusFilter, list[InboundRequest]] = {}
        for request in requests:
            by_status.setdefault(request.status, []).append(request)
        result.customers_looked_up = sum(
            len({request.customer_id for request in group}) for group in by_status.values()
        )
        indexes = await asyncio.gather(
            *(self._look_up(result, status, group, now_ms) for status, group in by_status.items())
        )
        answered_ms = self._clock_ms()
        for group, index in zip(by_status.values(), indexes, strict=True):
            if index is None:
                self._answer_unavailable(result, group)
                continue
            for request in group:
                self._answer_one(result, request, index, answered_ms)

    async def _look_up(
        self,
        result: BatchResult,
        status: StatusFilter,
        requests: list[InboundRequest],
        now_ms: int,
    ) -> JourneyIndex | None:
        """One store call for ``requests`` (one status filter); None when the store failed."""
        customer_ids = list(dict.fromkeys(request.customer_id for request in requests))
        latest_ms = max(request.deadline_ms for request in requests)
        budget_s = self._policy.budget((latest_ms - now_ms - self._reply_margin_ms) / 1000)
        attempts = LookupAttempts()
        try:
            table = await lookup_with_retry(
                self._store,
                customer_ids,
                status=status.value,
                budget_s=budget_s,
                policy=self._policy,
                attempts=attempts,
            )
            return JourneyIndex.from_table(table, max_per_customer=self.limits.max_journeys)
        except StoreError as exc:
            log.error("store lookup of %d customers failed: %s", len(customer_ids), exc)
        except (pa.ArrowException, KeyError, ValueError):
            # A store answer that does not fit the schema is our bug, not the requester's.
            log.exception("store answer for %d customers is unusable", len(customer_ids))
        finally:
            result.store_calls.extend(attempts.calls)
        return None

    def _answer_one(
        self, result: BatchResult, request: InboundRequest, index: JourneyIndex, now_ms: int
    ) -> None:
        if request.deadline_ms <= now_ms:
            # Its gateway stopped waiting while the store was asked; the others are answered.
            result.expired += 1
            if self._reply_expired:
                self._reply(result, request.routing, ReplyStatus.EXPIRED, None, error=EXPIRED_ERROR)
            return
        customer_id = request.customer_id
        if index.oversized(customer_id):
            error = f"customer {customer_id} has more than {self.limits.max_journeys} journeys"
            self._reply(result, request.routing, ReplyStatus.TOO_LARGE, customer_id, error=error)
            return
        journeys = index.journeys(customer_id, request.status)
        status = ReplyStatus.OK if journeys else ReplyStatus.NOT_FOUND
        self._reply(result, request.routing, status, customer_id, journeys)

    def _answer_unavailable(self, result: BatchResult, requests: list[InboundRequest]) -> None:
        for request in requests:
            self._reply(
                result,
                request.routing,
                ReplyStatus.UNAVAILABLE,
                request.customer_id,
                error=STORE_UNAVAILABLE_ERROR,
            )

    def _reply(
        self,
        result: BatchResult,
        routing: Routing,
        status: ReplyStatus,
        customer_id: str | None,
        journeys: Sequence[Row] = (),
        error: str | None = None,
    ) -> None:
        message = reply(self._replies_topic, routing, status, customer_id, journeys, error)
        size = len(message.value or b"")
        if size > self.limits.max_reply_bytes:
            status = ReplyStatus.TOO_LARGE
            error = f"the reply would be {size} bytes, over {self.limits.max_reply_bytes}"
            message = reply(self._replies_topic, routing, status, customer_id, (), error)
        result.replies.append(message)
        result.statuses[status] += 1
