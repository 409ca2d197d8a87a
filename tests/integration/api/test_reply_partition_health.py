"""The gateway's reply partition under faults: unreadable replies, a dead reader, a shared
partition. Real broker; the in-process gateways get faults injected into their real consumer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from aiokafka.errors import KafkaError

from api import GatewaySettings, create_app
from api.kafka_link import KafkaLink
from api.state import GatewayState
from journeys.kafka import KafkaSettings
from tests.integration.api.echo_responder import EchoResponder
from tests.integration.api.test_gateway_over_kafka import eventually, metric
from tests.support.gateway_process import API_KEY, GatewayProcess, GatewayStarter

pytestmark = pytest.mark.integration


@asynccontextmanager
async def in_process_gateway(
    kafka: KafkaSettings, reply_partition: int, **overrides: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, GatewayState]]:
    """A gateway app with its real KafkaLink, lifespan entered, and an HTTP client to it."""
    settings = GatewaySettings(
        api_keys=[API_KEY], reply_partition=reply_partition, kafka=kafka, **overrides
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gw", headers={"X-API-Key": API_KEY}
        ) as http:
            yield http, app.state.gateway


async def readyz(http: httpx.AsyncClient) -> httpx.Response:
    return await http.get("/readyz")


async def wait_ready(http: httpx.AsyncClient, ready: bool, what: str) -> None:
    async def check() -> bool:
        return ((await readyz(http)).status_code == 200) == ready

    await eventually(check, what, polls=300, interval=0.1)


def reader_consumer(state: GatewayState) -> Any:
    """The running aiokafka consumer of the gateway's reply reader (to inject faults into)."""
    link = state.link
    assert isinstance(link, KafkaLink)
    reader = link._consumer
    assert reader is not None
    return reader._consumer


async def test_readyz_fails_while_replies_cannot_be_read(
    gateway_kafka: KafkaSettings, echo_responder: EchoResponder
) -> None:
    async with in_process_gateway(
        gateway_kafka, 2, reply_unhealthy_after_ms=300, reply_reconnect_after_ms=60_000
    ) as (http, state):
        await wait_ready(http, True, "the gateway ready")
        consumer = reader_consumer(state)
        real_getmany = consumer.getmany

        async def failing_getmany(*args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(0.01)
            raise KafkaError("injected: the reply partition cannot be read")

        consumer.getmany = failing_getmany
        await wait_ready(http, False, "/readyz failing")
        body = (await readyz(http)).json()
        lookup = await http.get("/v1/customers/cust-1/journeys")
        consumer.getmany = real_getmany
        await wait_ready(http, True, "/readyz recovering once reads succeed")
        after = await http.get("/v1/customers/cust-1/journeys")
    assert body["checks"]["replies_readable"] is False
    assert lookup.status_code == 503  # at once, not 504 at the deadline
    assert after.status_code == 200


async def test_a_dead_reply_reader_is_restarted_and_lookups_work_again(
    gateway_kafka: KafkaSettings, echo_responder: EchoResponder
) -> None:
    async with in_process_gateway(gateway_kafka, 3) as (http, state):
        await wait_ready(http, True, "the gateway ready")
        assert (await http.get("/v1/customers/cust-2/journeys")).status_code == 200
        consumer = reader_consumer(state)

        async def broken_getmany(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("injected: a bug in the reader")

        consumer.getmany = broken_getmany
        link = state.link
        assert isinstance(link, KafkaLink)

        async def restarted() -> bool:
            return link.reader_restarts == 1 and link.connected()

        await eventually(restarted, "the reader restarted", polls=300, interval=0.1)
        await wait_ready(http, True, "the gateway ready again")
        after = await http.get("/v1/customers/cust-2/journeys")
    assert after.status_code == 200


async def test_two_gateways_on_one_reply_partition_detect_each_other(
    gateways: GatewayStarter, gateway_kafka: KafkaSettings, echo_responder: EchoResponder
) -> None:
    first, second = await asyncio.gather(
        *(
            asyncio.to_thread(gateways, name, gateway_kafka, reply_partition=1)
            for name in ("gateway-shared-1", "gateway-shared-2")
        )
    )

    async def ask(gateway: GatewayProcess) -> list[int]:
        async with gateway.client() as http:
            return [
                (await http.get(f"/v1/customers/cust-shared-{n}/journeys")).status_code
                for n in range(5)
            ]

    answers = await asyncio.gather(ask(first), ask(second))
    foreign = [
        await metric(g, "journeys_gateway_dropped_replies_total", reason="foreign")
        for g in (first, second)
    ]
    unknown = [
        await metric(g, "journeys_gateway_dropped_replies_total", reason="unknown")
        for g in (first, second)
    ]
    bodies = []
    for gateway in (first, second):
        async with gateway.client() as http:
            bodies.append((await http.get("/readyz")).json())
    # Both still answer their own lookups: each reads everything on the shared partition.
    assert list(answers) == [[200] * 5, [200] * 5]
    # ...and each counts the other's replies as foreign, not unknown, and says so.
    assert foreign == [5.0, 5.0]
    assert unknown == [0.0, 0.0]
    for body in bodies:
        assert body["status"] == "ok"
        assert len(body["warnings"]) == 1
        assert "another gateway" in body["warnings"][0]
