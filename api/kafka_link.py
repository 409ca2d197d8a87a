"""The gateway's connection to Kafka: a request producer and its reply partition reader.

:class:`KafkaLink` connects in the background and keeps retrying with backoff, so a gateway
started before its broker serves ``/healthz`` at once, answers lookups with 503 (never a hang)
and turns ready when Kafka is reachable. It then stays on watch: when the reply reader stops
(reads failing for too long, or any bug in it) the link reports not connected, closes both
clients and connects again with the same bounded backoff, counting
:attr:`KafkaLink.reader_restarts`. :class:`Link` is the boundary the rest of the gateway
sees; unit tests replace it with a fake.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable
from typing import Any, Final, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.client import ConnectionGroup
from aiokafka.errors import KafkaConnectionError, KafkaError
from aiokafka.protocol.metadata import MetadataRequest

from api.errors import KafkaUnavailable
from api.reply_reader import ReplyReader
from api.reply_router import ReplyRouter
from api.settings import GatewaySettings
from journeys.kafka import (
    PRODUCER_BROKEN,
    KafkaSetupError,
    create_producer,
    ensure_topics,
    replace_producer,
)

log = logging.getLogger(__name__)

_BACKOFF_S: Final = (0.2, 0.5, 1.0, 2.0, 5.0)
_PROBE_TIMEOUT_S: Final = 1.0
#: One broker's share of the probe: a dead one is skipped for the next within the probe.
_PROBE_PER_BROKER_S: Final = 0.3
_PROBE_CACHE_S: Final = 1.0
_STOP_TIMEOUT_S: Final = 5.0
#: A reader that ran this long before stopping starts the backoff from the beginning again.
_STABLE_S: Final = 30.0

Headers = list[tuple[str, bytes]]


class Link(Protocol):
    """What the gateway needs from Kafka."""

    async def start(self) -> None:
        """Begin connecting; must return promptly even when Kafka is down."""

    async def stop(self) -> None:
        """Close every client; idempotent."""

    def connected(self) -> bool:
        """True when requests can be produced and replies are being read."""

    def replies_readable(self) -> bool:
        """True when the reply partition is read without persistent errors."""

    async def ready(self) -> bool:
        """``connected()`` and the broker answers right now (``/readyz``)."""

    def request_partitions(self) -> int:
        """How many partitions the requests topic has."""

    async def send(
        self, key: bytes, value: bytes, headers: Headers, partition: int | None = None
    ) -> int:
        """Produce one request (to ``partition``, else by key) and wait for the acknowledgement.

        Returns the partition written. Raises :class:`KafkaUnavailable`; the caller bounds the
        wait with the deadline.
        """


class KafkaLink:
    """aiokafka producer + :class:`ReplyReader`, (re)connected by a background task."""

    def __init__(self, settings: GatewaySettings, router: ReplyRouter) -> None:
        self._kafka = settings.kafka
        self._partition = settings.reply_partition
        self._unhealthy_after_s = settings.reply_unhealthy_after_ms / 1000
        self._give_up_after_s = settings.reply_reconnect_after_ms / 1000
        self._router = router
        self._producer: AIOKafkaProducer | None = None
        self._consumer: ReplyReader | None = None
        self._connector: asyncio.Task[None] | None = None
        self._up = False
        self._probe_ok_until = 0.0
        self._replacing = asyncio.Lock()
        #: Times the reply reader stopped and the link reconnected.
        self.reader_restarts = 0
        #: Times the producer was replaced (see :data:`journeys.kafka.PRODUCER_BROKEN`).
        self.producer_replacements = 0

    async def start(self) -> None:
        """Start connecting in the background."""
        if self._connector is not None:
            raise RuntimeError("KafkaLink already started")
        self._connector = asyncio.create_task(self._stay_connected(), name="kafka-connect")

    async def _stay_connected(self) -> None:
        attempt = 0
        while True:
            try:
                await self._connect_once()
            except (KafkaError, KafkaSetupError, KafkaUnavailable, OSError) as exc:
                delay = _backoff(attempt)
                attempt += 1
                log.warning("Kafka not reachable (%s); retrying in %.1fs", exc, delay)
                await self._close_clients()
                await asyncio.sleep(delay)
                continue
            log.info(
                "connected to Kafka %s; reading %s partition %d",
                self._kafka.bootstrap_servers,
                self._kafka.replies_topic,
                self._partition,
            )
            self._up = True
            attempt = await self._watch_reader(attempt)

    async def _watch_reader(self, attempt: int) -> int:
        """Wait for the reader to stop, then close the clients; the next backoff attempt."""
        reader = self._consumer
        started = time.monotonic()
        reason = await reader.stopped() if reader is not None else None
        self._up = False
        self.reader_restarts += 1
        if time.monotonic() - started >= _STABLE_S:
            attempt = 0
        delay = _backoff(attempt)
        log.error("the reply reader stopped (%r); reconnecting to Kafka in %.1fs", reason, delay)
        await self._close_clients()
        await asyncio.sleep(delay)
        return attempt + 1

    async def _connect_once(self) -> None:
        if self._kafka.create_topics:
            # Off in production: a DMZ process should not hold topic-admin rights.
            await ensure_topics(self._kafka)
        producer = create_producer(self._kafka, role=f"gateway-{self._partition}")
        self._producer = producer
        await producer.start()
        consumer = ReplyReader(
            self._kafka,
            self._partition,
            self._router,
            unhealthy_after_s=self._unhealthy_after_s,
            give_up_after_s=self._give_up_after_s,
        )
        self._consumer = consumer
        await consumer.start()

    def connected(self) -> bool:
        """Producer started and reply partition assigned and read without persistent errors."""
        return self._up and self.replies_readable()

    def replies_readable(self) -> bool:
        """The reply reader runs and its reads have not been failing for long."""
        consumer = self._consumer
        return consumer is not None and consumer.readable

    async def ready(self) -> bool:
        """Connected, and a broker answers a metadata request (cached for a second)."""
        if not self.connected() or self._producer is None:
            return False
        now = time.monotonic()
        if now < self._probe_ok_until:
            return True
        try:
            await asyncio.wait_for(cluster_answers(self._producer.client), _PROBE_TIMEOUT_S)
        except (TimeoutError, KafkaError, OSError):
            return False
        self._probe_ok_until = now + _PROBE_CACHE_S
        return True

    def request_partitions(self) -> int:
        """The configured partition count (deploy/kafka creates the topics with exactly it)."""
        return self._kafka.partitions

    async def send(
        self, key: bytes, value: bytes, headers: Headers, partition: int | None = None
    ) -> int:
        """Produce to the requests topic and wait for the acknowledgement."""
        producer = self._producer
        if producer is None or not self.connected():
            raise KafkaUnavailable("the gateway is not connected to Kafka")
        try:
            metadata = await producer.send_and_wait(
                self._kafka.requests_topic, value, key=key, headers=headers, partition=partition
            )
        except KafkaError as exc:
            if isinstance(exc, PRODUCER_BROKEN):
                await self._replace_producer(producer)
            raise KafkaUnavailable(f"Kafka refused the request: {exc}") from exc
        written: int = metadata.partition
        return written

    async def _replace_producer(self, broken: AIOKafkaProducer) -> None:
        """A new idempotent producer for one whose sequence numbers the broker refuses."""
        async with self._replacing:
            if self._producer is not broken:
                return  # another request already replaced it (or the link reconnected)
            role = f"gateway-{self._partition}"
            self._producer = await replace_producer(broken, self._kafka, role=role)
            if self._producer is not broken:
                self.producer_replacements += 1

    async def _close_clients(self) -> None:
        self._up = False
        consumer, self._consumer = self._consumer, None
        producer, self._producer = self._producer, None
        if consumer is not None:
            await _bounded(consumer.stop(), "reply consumer")
        if producer is not None:
            await _bounded(producer.stop(), "producer")

    async def stop(self) -> None:
        """Stop connecting, then close the consumer and the producer."""
        connector, self._connector = self._connector, None
        if connector is not None:
            connector.cancel()
            await asyncio.gather(connector, return_exceptions=True)
        await self._close_clients()


async def cluster_answers(client: Any, per_broker_s: float = _PROBE_PER_BROKER_S) -> None:
    """One Metadata request (no topics) to the first broker that answers it, over the client's
    coordination connections, not the ones its sends use: a broker answers one connection's
    requests in order, and while a dead broker is still in sync (until the controller fences
    it, 9 s by default) every acks=all send waits up to the request timeout, holding anything
    queued behind it. A broker that refuses, fails or takes ``per_broker_s`` is skipped for the
    next. Raises :class:`KafkaError` when none answers."""
    nodes = [broker.nodeId for broker in client.cluster.brokers()]
    random.shuffle(nodes)
    failures: list[str] = []
    for node in nodes:
        try:
            async with asyncio.timeout(per_broker_s):
                if await client.ready(node, group=ConnectionGroup.COORDINATION):
                    request = MetadataRequest([])
                    await client.send(node, request, group=ConnectionGroup.COORDINATION)
                    return
                failures.append(f"{node}: no connection")
        except (KafkaError, OSError, TimeoutError) as exc:
            failures.append(f"{node}: {exc!r}")
    raise KafkaConnectionError(f"no broker answers ({'; '.join(failures) or 'none known'})")


def _backoff(attempt: int) -> float:
    return _BACKOFF_S[min(attempt, len(_BACKOFF_S) - 1)]


async def _bounded(closing: Awaitable[object], what: str) -> None:
    # A producer flushing to a dead broker would otherwise hold shutdown for request_timeout.
    try:
        await asyncio.wait_for(closing, timeout=_STOP_TIMEOUT_S)
    except (TimeoutError, KafkaError, OSError) as exc:
        log.warning("closing the %s: %s", what, exc)
