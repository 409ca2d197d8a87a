"""A fake Kafka boundary for the gateway's unit tests (the ``Link`` protocol we own).

It records every produced request and answers through the real :class:`ReplyRouter` the way
the reply consumer would, using a ``respond`` function the test chooses. It can also refuse
(not connected), fail, or hang on ``send`` like a producer blocked on a dead broker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from api.errors import KafkaUnavailable
from api.partition_breaker import key_partition
from api.reply_router import ReplyRouter
from api.settings import GatewaySettings
from journeys.contract import Header


@dataclass
class SentRequest:
    """One request as it would have been produced."""

    key: bytes
    value: bytes
    headers: dict[str, str]
    partition: int = 0

    @property
    def is_hedge(self) -> bool:
        return self.headers.get(Header.HEDGE) == "1"

    @property
    def correlation_id(self) -> str:
        return self.headers[Header.CORRELATION_ID]

    @property
    def body(self) -> dict[str, Any]:
        decoded: dict[str, Any] = orjson.loads(self.value)
        return decoded


Responder = Callable[[SentRequest], bytes | None]


def reply_value(status: str, **fields: Any) -> bytes:
    """A reply value as the responder would produce it."""
    return orjson.dumps({"v": 1, "status": status, **fields})


@dataclass
class FakeKafka:
    """Stands in for :class:`api.kafka_link.KafkaLink`."""

    respond: Responder | None = None
    is_connected: bool = True
    is_readable: bool = True
    send_error: Exception | None = None
    send_hangs: bool = False
    partitions: int = 8
    sent: list[SentRequest] = field(default_factory=list)
    router: ReplyRouter | None = None
    started: bool = False
    stopped: bool = False
    release: asyncio.Event = field(default_factory=asyncio.Event)
    _sent_more: asyncio.Event = field(default_factory=asyncio.Event)

    def bind(self, settings: GatewaySettings, router: ReplyRouter) -> FakeKafka:
        """The ``link_factory`` to pass to ``create_app``."""
        del settings
        self.router = router
        return self

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True
        self.release.set()

    def connected(self) -> bool:
        return self.is_connected and self.replies_readable()

    def replies_readable(self) -> bool:
        return self.is_readable

    async def ready(self) -> bool:
        return self.is_connected

    def request_partitions(self) -> int:
        return self.partitions

    async def send(
        self,
        key: bytes,
        value: bytes,
        headers: list[tuple[str, bytes]],
        partition: int | None = None,
    ) -> int:
        if partition is None:
            partition = key_partition(key, self.partitions)  # by key, as the producer does
        request = SentRequest(key, value, {name: raw.decode() for name, raw in headers}, partition)
        self.sent.append(request)
        self._sent_more.set()
        if self.send_hangs:
            await self.release.wait()
        if self.send_error is not None:
            raise self.send_error
        if self.respond is not None:
            answer = self.respond(request)
            if answer is not None:
                # Like the consumer task: the reply arrives on a later loop iteration.
                asyncio.get_running_loop().call_soon(
                    self._deliver_reply, request.correlation_id, answer, request.is_hedge
                )
        return partition

    def _deliver_reply(self, correlation_id: str, value: bytes, hedge: bool) -> None:
        assert self.router is not None
        self.router.deliver(correlation_id, value, hedge=hedge)

    async def wait_sent(self, count: int) -> None:
        """Return once ``count`` requests have been produced (bound it with a timeout)."""
        while len(self.sent) < count:
            self._sent_more.clear()
            await self._sent_more.wait()

    def deliver(self, correlation_id: str | None, value: bytes, *, hedge: bool = False) -> str:
        """A reply read from this gateway's partition (``hedge``: it answers a hedge copy)."""
        assert self.router is not None
        return self.router.deliver(correlation_id, value, hedge=hedge)


def unavailable_link() -> FakeKafka:
    """A link whose producer cannot reach the broker."""
    return FakeKafka(send_error=KafkaUnavailable("Kafka refused the request: broker down"))
