"""/readyz asks a broker over a connection of its own, so sends waiting for their
acknowledgements cannot make a gateway look unreachable.

A broker answers one connection's requests in order. While a killed broker is still in sync
(until the controller fences it: 9 s on Apache Kafka's defaults) every acks=all send waits up to
the request timeout; the probe's metadata request queued behind one on the producer's connection
timed out, and both gateways said 503 on /readyz although two brokers of three answered
(tests/cluster/test_kafka_broker_crash.py).
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.client import ConnectionGroup
from aiokafka.errors import KafkaConnectionError, KafkaError

from api.kafka_link import KafkaLink, cluster_answers
from api.reply_router import ReplyRouter
from tests.support.gateway_app import gateway_settings


class HeldClient:
    """An aiokafka client whose default connections are held by sends waiting for acks."""

    def __init__(self, up: set[int], closed: set[int] | None = None) -> None:
        self.up = up
        #: Brokers whose (cached) connection looks open but fails the request: just killed.
        self.closed = closed or set()
        self.cluster = SimpleNamespace(
            brokers=lambda: [SimpleNamespace(nodeId=n) for n in (1, 2, 3)]
        )
        self.sent: list[tuple[int, ConnectionGroup]] = []

    async def ready(self, node: int, *, group: ConnectionGroup = ConnectionGroup.DEFAULT) -> bool:
        return node in self.up or node in self.closed

    async def send(
        self, node: int, request: Any, *, group: ConnectionGroup = ConnectionGroup.DEFAULT
    ) -> Any:
        if group is ConnectionGroup.DEFAULT:
            await asyncio.Event().wait()  # behind a send that waits for a dead follower
        if node in self.closed:
            raise KafkaConnectionError(f"Connection at node {node} closed")
        self.sent.append((node, group))
        return SimpleNamespace(brokers=[(2, "127.0.0.1", 9092, None)])


async def test_the_probe_asks_a_live_broker_over_a_connection_no_send_holds() -> None:
    client = HeldClient(up={2, 3})

    await asyncio.wait_for(cluster_answers(client), timeout=1.0)

    [(node, group)] = client.sent
    assert node in (2, 3)
    assert group is ConnectionGroup.COORDINATION


async def test_a_broker_killed_under_an_open_connection_is_skipped_for_the_next() -> None:
    client = HeldClient(up={3}, closed={1, 2})

    await asyncio.wait_for(cluster_answers(client), timeout=1.0)

    assert client.sent == [(3, ConnectionGroup.COORDINATION)]


async def test_no_broker_accepting_a_connection_is_no_answer() -> None:
    with pytest.raises(KafkaError):
        await cluster_answers(HeldClient(up=set()))


async def test_a_gateway_whose_sends_wait_for_acknowledgements_is_still_ready() -> None:
    link = KafkaLink(gateway_settings(), ReplyRouter())
    link._up = True
    link._consumer = SimpleNamespace(readable=True)  # type: ignore[assignment]
    link._producer = SimpleNamespace(client=HeldClient(up={1, 3}))

    assert await link.ready()
