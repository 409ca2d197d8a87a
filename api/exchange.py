"""One request's exchange with Kafka: its copies on the wire, and the reply that wins.

A lookup is read-only, so the gateway may send it more than once under one correlation id
(the first useful reply wins, the others are dropped as ``duplicate``). :class:`Exchange`
decides when, in one place:

* the **first copy** goes to its partition (the key's, or the one the
  :class:`~api.partition_breaker.PartitionBreaker` routes it to). Its send runs *beside* the
  wait for the reply: a reply is never held back by a send still waiting for a leader;
* after the hedge delay without a reply, a **hedge** copy goes to the next partition
  (:mod:`api.hedging`; it spends a hedge token);
* when the first copy's send **fails** (its partition has no leader, the broker refused it),
  a **rerouted** copy goes to another partition at once, without waiting and without a token:
  the first copy never left, so this is no extra load;
* an ``unavailable`` reply (that responder cannot reach the store) is not final while another
  copy may still do better: a hedge is sent for it if none was, and the exchange waits for the
  other copy's reply until the deadline; only then is ``unavailable`` the answer.

At the deadline: :class:`~api.errors.KafkaUnavailable` (503) when Kafka accepted no copy at all,
else :class:`~api.errors.DeadlineExceeded` (504). Every extra copy carries the ``hedge`` header,
so :meth:`~api.reply_router.ReplyRouter.answered_by_hedge` tells the caller when the first copy's
partition did not answer.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Final

import orjson

from api.errors import DeadlineExceeded, KafkaUnavailable
from api.hedging import Hedger
from api.kafka_link import Headers, Link
from api.metrics import GatewayMetrics
from api.partition_breaker import PartitionBreaker
from api.reply_router import ReplyRouter
from journeys.contract import Header, ReplyStatus

log = logging.getLogger(__name__)

_HEDGE_HEADER: Final = (Header.HEDGE, b"1")
_UNAVAILABLE: Final = ReplyStatus.UNAVAILABLE.value


@dataclass(frozen=True, slots=True)
class Copy:
    """One request as sent: what every copy repeats, and where the first one goes."""

    key: bytes
    value: bytes
    headers: Headers
    #: The partition of the first copy.
    partition: int
    #: Spreads this key's rerouted copies over the other partitions (from the key's hash).
    spread: int


def is_unavailable(raw: bytes) -> bool:
    """True for a reply whose status is ``unavailable`` (the responder's store was down)."""
    if _UNAVAILABLE.encode() not in raw:  # cheap pre-check: nearly every reply is ``ok``
        return False
    try:
        return bool(orjson.loads(raw).get("status") == _UNAVAILABLE)
    except (orjson.JSONDecodeError, AttributeError):
        return False


class Exchange:
    """The copies of one request and the wait for its reply (see the module docstring)."""

    def __init__(
        self,
        correlation_id: str,
        copy: Copy,
        *,
        link: Link,
        router: ReplyRouter,
        hedger: Hedger,
        breaker: PartitionBreaker,
        metrics: GatewayMetrics,
        deadline_s: float,
    ) -> None:
        self._id = correlation_id
        self._copy = copy
        self._link = link
        self._router = router
        self._hedger = hedger
        self._breaker = breaker
        self._metrics = metrics
        self._deadline_s = deadline_s
        self._partitions = link.request_partitions()
        self._sends: list[asyncio.Task[int]] = []
        #: The one extra copy (hedge or reroute), once sent.
        self._extra: asyncio.Task[int] | None = None
        self._accepted = False
        #: An ``unavailable`` reply kept while another copy may still answer better.
        self._fallback: bytes | None = None

    async def run(self, deadline_loop: float) -> bytes:
        """The reply that wins; raises KafkaUnavailable, DeadlineExceeded or RepliesLost."""
        reply = self._router.expect(self._id)
        first = self._send(self._copy.partition, extra=False)
        try:
            async with asyncio.timeout_at(deadline_loop):
                return await self._wait(reply, first)
        except TimeoutError:
            if self._fallback is not None:
                return self._fallback
            if not self._accepted:
                raise KafkaUnavailable(
                    "Kafka did not accept the request before its deadline; retry later"
                ) from None
            raise DeadlineExceeded(
                f"no reply within {self._deadline_s * 1000:.0f} ms (correlation id {self._id})"
            ) from None
        finally:
            for send in self._sends:
                if not send.done():
                    send.cancel()
                elif not send.cancelled():
                    send.exception()  # retrieved: a late failure is not "never retrieved"

    def _send(self, partition: int, *, extra: bool) -> asyncio.Task[int]:
        copy = self._copy
        headers = [*copy.headers, _HEDGE_HEADER] if extra else copy.headers
        task = asyncio.ensure_future(self._link.send(copy.key, copy.value, headers, partition))
        self._sends.append(task)
        if extra:
            self._extra = task
        return task

    def _live_copies(self) -> int:
        """Copies sent or being sent (a failed send is none)."""
        return sum(1 for s in self._sends if not s.done() or s.exception() is None)

    async def _wait(self, reply: asyncio.Future[bytes], first: asyncio.Task[int]) -> bytes:
        loop = asyncio.get_running_loop()
        hedge_at: float | None = None
        if self._hedger.enabled and self._partitions >= 2:
            delay = self._hedger.delay_s()
            self._metrics.hedge_delay.set(delay)
            hedge_at = loop.time() + delay
        waiting: set[asyncio.Future[Any]] = {reply, first}
        while True:
            timeout = None if hedge_at is None else max(0.0, hedge_at - loop.time())
            done, _ = await asyncio.wait(waiting, timeout=timeout, return_when="FIRST_COMPLETED")
            if not done:  # the hedge delay passed without a reply
                hedge_at = None
                self._hedge(waiting)
                continue
            if reply in done:
                raw = reply.result()  # raises RepliesLost when the reply log was lost
                waiting.discard(reply)
                if not is_unavailable(raw) or not self._another_chance(waiting):
                    return raw
                self._fallback = raw
                reply = self._router.expect(self._id)
                waiting.add(reply)
                hedge_at = None
            for send in [task for task in done if task in self._sends]:
                waiting.discard(send)
                self._settle(send, waiting)
            if self._extra is not None:
                hedge_at = None  # one extra copy per exchange

    def _settle(self, send: asyncio.Task[int], waiting: set[asyncio.Future[Any]]) -> None:
        """A send finished: note an acknowledgement, or reroute a failed first copy."""
        error = send.exception()
        if error is None:
            self._accepted = True
            return
        if not isinstance(error, KafkaUnavailable):
            raise error
        if send is self._extra:
            log.warning("extra copy of %s not sent: %s", self._id, error)
            self._metrics.hedges_skipped.labels("send_failed").inc()
        elif self._extra is None and self._partitions >= 2:
            # The first copy never left: send it elsewhere now (no token: no extra load).
            log.warning(
                "request to partition %d not sent (%s): rerouted", self._copy.partition, error
            )
            self._metrics.rerouted.inc()
            waiting.add(self._send(self._alternative(), extra=True))
            return
        if not self._accepted and self._live_copies() == 0:
            raise error

    def _hedge(self, waiting: set[asyncio.Future[Any]]) -> None:
        """Send the hedge copy if the budget allows (only one extra copy per exchange)."""
        if self._extra is not None:
            return
        if not self._hedger.try_spend():
            self._metrics.hedges_skipped.labels("budget").inc()
            return
        self._send_hedge(waiting)

    def _send_hedge(self, waiting: set[asyncio.Future[Any]]) -> None:
        target = self._breaker.next_closed(self._copy.partition, self._partitions)
        waiting.add(self._send(target, extra=True))
        self._metrics.hedges_sent.inc()

    def _another_chance(self, waiting: set[asyncio.Future[Any]]) -> bool:
        """After an ``unavailable`` reply: is another copy on its way, or can one be sent?"""
        if self._live_copies() >= 2:
            return True  # the other copy may still answer
        if self._extra is not None or self._partitions < 2 or not self._hedger.enabled:
            return False
        if not self._hedger.try_spend():
            self._metrics.hedges_skipped.labels("budget").inc()
            return False
        self._send_hedge(waiting)
        return True

    def _alternative(self) -> int:
        return self._breaker.spread(self._copy.partition, self._partitions, self._copy.spread)
