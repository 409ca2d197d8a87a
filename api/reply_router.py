"""Reply routing: this gateway's partition of the replies topic → the request awaiting it.

Each gateway instance owns exactly ONE partition of ``journey.replies`` (``reply_partition`` in
its settings). It is *assigned*, not group-managed: no rebalances can move it and no other
instance reads it. At start the consumer seeks to the end (earlier replies belong to a previous
life of this instance) and resolves the position before the gateway reports ready, so no reply
to a request sent after start-up can be skipped.

:class:`ReplyRouter` keeps ``correlation id → asyncio.Future``. A reply nobody waits for is
dropped and counted, never raised: ``late`` (its request already gave up), ``duplicate`` (its
request was already answered: at-least-once delivery), ``unknown`` (never sent by this instance),
``uncorrelated`` (no correlation-id header) or ``foreign`` (its ``requester-id`` header names
another gateway: two instances were given the same reply partition). The router remembers a
bounded number of finished correlation ids to tell late and duplicate from unknown.

Every gateway process has a random :attr:`ReplyRouter.instance_id`; requests carry it in the
``requester-id`` header and responders copy it to the reply. Two gateways sharing a partition
both read every reply on it, so each sees the other's replies: those are counted ``foreign``
(replies echo the request's deadline: one whose request expired before this process started
was asked by its previous process, counted ``previous`` and raises no alarm),
logged once per other instance and listed by :attr:`ReplyRouter.foreign_requesters` (``/readyz``
shows them), so the misconfiguration is visible instead of looking like stray replies.

When Kafka answers the reader "offset out of range", the broker lost the log (a local broker
restarted empty, an unclean leader election; see :class:`api.reply_reader.ReplyReader`):
replies written to the lost part will never arrive, and requests not yet read from a lost
request log will never be answered.
:meth:`ReplyRouter.replies_lost` fails every waiting request with :class:`RepliesLost`, and
:class:`api.requester.Requester` sends each again (same correlation id, same deadline) instead
of letting it run into its deadline. A lookup is read-only, so a second answer is harmless: it
is counted ``duplicate``.

A hedged request (:mod:`api.hedging`) has two copies in flight under one correlation id: the
first reply wins, the other is counted ``duplicate``; :meth:`ReplyRouter.answered_by_hedge`
tells whether the winner answered the hedge copy (its reply carries the ``hedge`` header).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final

from journeys.contract import Header

log = logging.getLogger(__name__)

#: How many finished correlation ids are remembered to classify late and duplicate replies.
RECENT_CAPACITY: Final = 65_536
#: How many other instances' ids are remembered (and shown on /readyz) at most.
FOREIGN_CAPACITY: Final = 16
#: Every outcome of :meth:`ReplyRouter.deliver` other than ``matched`` (see above).
DROP_REASONS: Final = ("late", "unknown", "duplicate", "uncorrelated", "foreign", "previous")
_CORRELATION_HEADER: Final = Header.CORRELATION_ID
_HEDGE_HEADER: Final = Header.HEDGE


class RepliesLost(Exception):
    """The reply log was lost under this request: send it again."""


def _ignore(outcome: str) -> None:
    del outcome


class ReplyRouter:
    """Matches replies to waiting requests by correlation id."""

    def __init__(
        self,
        on_reply: Callable[[str], None] = _ignore,
        on_log_lost: Callable[[], None] | None = None,
        recent_capacity: int = RECENT_CAPACITY,
        instance_id: str | None = None,
        started_ms: int | None = None,
    ) -> None:
        #: This process's id, sent as ``requester-id`` (random per start).
        self.instance_id = instance_id if instance_id is not None else uuid.uuid4().hex[:16]
        #: When this process started (epoch ms): replies to requests whose deadline passed
        #: before then were asked by an earlier process on this partition, not another instance.
        self.started_ms = started_ms if started_ms is not None else int(time.time() * 1000)
        self._foreign: OrderedDict[str, None] = OrderedDict()
        self._pending: dict[str, asyncio.Future[bytes]] = {}
        self._recent: OrderedDict[str, bool] = OrderedDict()  # id → was it answered?
        self._recent_capacity = recent_capacity
        self._on_reply = on_reply
        self._on_log_lost = on_log_lost
        self._won_by_hedge: set[str] = set()  # pending ids whose reply answered a hedge copy

    @property
    def pending(self) -> int:
        """Requests awaiting a reply."""
        return len(self._pending)

    def expect(self, correlation_id: str) -> asyncio.Future[bytes]:
        """Register a request before it is sent; its reply value will resolve the future."""
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending[correlation_id] = future
        return future

    def forget(self, correlation_id: str) -> None:
        """The request is finished (answered or given up); later replies to it are dropped."""
        future = self._pending.pop(correlation_id, None)
        self._won_by_hedge.discard(correlation_id)
        if future is None:
            return
        answered = future.done() and not future.cancelled()
        if not future.done():
            future.cancel()
        self._recent[correlation_id] = answered
        if len(self._recent) > self._recent_capacity:
            self._recent.popitem(last=False)

    @property
    def foreign_requesters(self) -> list[str]:
        """Ids of other gateways whose replies arrived on this partition (most recent last)."""
        return list(self._foreign)

    def answered_by_hedge(self, correlation_id: str) -> bool:
        """True when the reply that answered this pending request was to its hedge copy."""
        return correlation_id in self._won_by_hedge

    def deliver(
        self,
        correlation_id: str | None,
        value: bytes,
        requester_id: str | None = None,
        *,
        hedge: bool = False,
        deadline_ms: int | None = None,
    ) -> str:
        """Hand one reply to its request; returns the outcome (``matched`` or a drop reason).

        ``hedge``: the reply carries the ``hedge`` header, i.e. it answers the hedge copy.
        ``deadline_ms``: the request's deadline the reply echoes, if it does.
        """
        if requester_id is not None and requester_id != self.instance_id:
            if deadline_ms is not None and deadline_ms < self.started_ms:
                outcome = "previous"  # asked before this process started: a restart, no alarm
            else:
                outcome = "foreign"
                self._note_foreign(requester_id)
        else:
            outcome = self._route(correlation_id, value)
        if outcome == "matched" and hedge and correlation_id is not None:
            self._won_by_hedge.add(correlation_id)
        self._on_reply(outcome)
        if outcome != "matched":
            log.debug("dropped %s reply correlation_id=%s", outcome, correlation_id)
        return outcome

    def _note_foreign(self, requester_id: str) -> None:
        if requester_id in self._foreign:
            self._foreign.move_to_end(requester_id)
            return
        log.error(
            "replies of another gateway (requester-id %s) arrive on this gateway's reply "
            "partition: two instances share one JOURNEYS_GATEWAY_REPLY_PARTITION (this one is %s)",
            requester_id[:64],
            self.instance_id,
        )
        self._foreign[requester_id] = None
        if len(self._foreign) > FOREIGN_CAPACITY:
            self._foreign.popitem(last=False)

    def _route(self, correlation_id: str | None, value: bytes) -> str:
        if correlation_id is None:
            return "uncorrelated"
        future = self._pending.get(correlation_id)
        if future is not None:
            if future.cancelled():
                return "late"
            if future.done():
                return "duplicate"
            future.set_result(value)
            return "matched"
        answered = self._recent.get(correlation_id)
        if answered is None:
            return "unknown"
        return "duplicate" if answered else "late"

    def replies_lost(self) -> int:
        """The reply partition lost its log: fail every waiting request with :class:`RepliesLost`.

        Returns how many were waiting; each is expected to send again and call :meth:`expect`.
        """
        if self._on_log_lost is not None:
            self._on_log_lost()
        waiting = [future for future in self._pending.values() if not future.done()]
        for future in waiting:
            future.set_exception(RepliesLost())
        if waiting:
            log.warning("the reply log was lost: %d waiting requests are sent again", len(waiting))
        return len(waiting)

    def cancel_all(self) -> None:
        """Give up every waiting request (shutdown)."""
        for correlation_id in list(self._pending):
            self.forget(correlation_id)


def is_hedge_reply(headers: Any) -> bool:
    """True when a consumed reply carries the ``hedge`` header (it answers a hedge copy)."""
    return any(name == _HEDGE_HEADER for name, _value in headers or ())


def deadline_of(headers: Any) -> int | None:
    """The ``deadline`` header a reply echoes (epoch ms), or None when absent or malformed."""
    text = header_text(headers, Header.DEADLINE)
    if text is None or not (0 < len(text) <= 19 and text.isascii() and text.isdecimal()):
        return None
    return int(text)


def correlation_id_of(headers: Any) -> str | None:
    """The ``correlation-id`` header of a consumed record, or None."""
    return header_text(headers, _CORRELATION_HEADER)


def header_text(headers: Any, wanted: str) -> str | None:
    """The first ``wanted`` header of a consumed record as text, or None."""
    for name, value in headers or ():
        if name == wanted and value:
            try:
                return bytes(value).decode()
            except UnicodeDecodeError:
                return None
    return None
