"""Real gateway processes on the real Apache Kafka broker, with a test-only echo responder."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest

from devstack import local_kafka
from journeys.kafka import KafkaSettings, create_producer
from tests.integration.api.echo_responder import EchoResponder
from tests.support.gateway_process import API_KEY, GatewayProcess, GatewayStarter
from tests.support.metrics_scrape import parse
from tests.support.processes import free_port

pytestmark = pytest.mark.integration


async def metric(gateway: GatewayProcess, name: str, **labels: str) -> float:
    """The samples called ``name`` with ``labels`` on the gateway's /metrics, summed."""
    async with gateway.client() as http:
        return parse((await http.get("/metrics")).text).total(name, **labels)


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str, polls: int = 200, interval: float = 0.05
) -> None:
    """Poll ``check()`` until it is true; fail naming ``what`` after ``polls`` attempts."""
    for _ in range(polls):
        if await check():
            return
        await asyncio.sleep(interval)
    pytest.fail(f"{what} not reached after {polls * interval:.0f}s")


@pytest.fixture(scope="module")
async def gateway_a(
    gateways: GatewayStarter, gateway_kafka: KafkaSettings, echo_responder: EchoResponder
) -> GatewayProcess:
    return await asyncio.to_thread(
        gateways, "gateway-a", gateway_kafka, reply_partition=0, request_timeout_ms=1_500
    )


@pytest.fixture(scope="module")
async def gateway_b(
    gateways: GatewayStarter, gateway_kafka: KafkaSettings, echo_responder: EchoResponder
) -> GatewayProcess:
    return await asyncio.to_thread(
        gateways,
        "gateway-b",
        gateway_kafka,
        reply_partition=1,
        request_timeout_ms=1_500,
        max_in_flight=2,
    )


async def test_lookup_through_kafka_returns_the_responders_journeys(
    gateway_a: GatewayProcess,
) -> None:
    async with gateway_a.client() as http:
        response = await http.get("/v1/customers/cust-42/journeys")

    assert response.status_code == 200
    body = response.json()
    assert body["customer_id"] == "cust-42"
    assert [j["journey_id"] for j in body["journeys"]] == ["j-1", "j-2"]
    assert body["journeys"][0]["content"]["title"] == "Hello cust-42"


async def test_not_found_reply_is_404_and_missing_key_is_401(gateway_a: GatewayProcess) -> None:
    async with gateway_a.client() as http:
        missing = await http.get("/v1/customers/missing-1/journeys")
        no_key = await http.get("/v1/customers/cust-1/journeys", headers={"X-API-Key": ""})

    assert missing.status_code == 404
    assert missing.json() == {"detail": "customer missing-1 has no open journeys"}
    assert no_key.status_code == 401


async def test_two_gateway_instances_each_receive_only_their_own_replies(
    gateway_a: GatewayProcess, gateway_b: GatewayProcess, echo_responder: EchoResponder
) -> None:
    before = {
        g.reply_partition: await metric(g, "journeys_gateway_replies_total")
        for g in (gateway_a, gateway_b)
    }

    async def ask(gateway: GatewayProcess, count: int) -> list[httpx.Response]:
        async with gateway.client() as http:
            return [
                await http.get(f"/v1/customers/cust-{gateway.reply_partition}-{n}/journeys")
                for n in range(count)
            ]

    answers_a, answers_b = await asyncio.gather(ask(gateway_a, 20), ask(gateway_b, 20))

    for gateway, answers in ((gateway_a, answers_a), (gateway_b, answers_b)):
        assert [r.status_code for r in answers] == [200] * 20
        for n, response in enumerate(answers):
            assert response.json()["customer_id"] == f"cust-{gateway.reply_partition}-{n}"
            correlation_id = response.headers["x-correlation-id"]
            assert echo_responder.reply_partitions[correlation_id] == gateway.reply_partition
        replies = await metric(gateway, "journeys_gateway_replies_total")
        assert replies - before[gateway.reply_partition] == 20
        assert (
            await metric(gateway, "journeys_gateway_dropped_replies_total", reason="unknown") == 0
        )


async def test_a_stray_reply_is_counted_unknown_only_by_the_partitions_owner(
    gateway_a: GatewayProcess, gateway_b: GatewayProcess, gateway_kafka: KafkaSettings
) -> None:
    producer = create_producer(gateway_kafka, role="stray")
    async with producer:
        await producer.send_and_wait(
            gateway_kafka.replies_topic,
            b'{"v":1,"status":"ok","journeys":[]}',
            partition=gateway_b.reply_partition,
            headers=[("correlation-id", uuid.uuid4().hex.encode())],
        )

    async def b_counted() -> bool:
        return (
            await metric(gateway_b, "journeys_gateway_dropped_replies_total", reason="unknown") == 1
        )

    await eventually(b_counted, "gateway B counting the stray reply")
    assert await metric(gateway_a, "journeys_gateway_dropped_replies_total", reason="unknown") == 0


async def test_beyond_the_in_flight_bound_is_429_and_unanswered_lookups_are_504(
    gateway_b: GatewayProcess,
) -> None:
    async with gateway_b.client() as http:
        silent = [
            asyncio.create_task(http.get(f"/v1/customers/silent-{n}/journeys")) for n in range(2)
        ]

        async def two_in_flight() -> bool:
            return await metric(gateway_b, "journeys_gateway_in_flight_requests") == 2

        await eventually(two_in_flight, "two lookups in flight")
        refused = await http.get("/v1/customers/cust-9/journeys")
        timed_out = await asyncio.gather(*silent)

    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    assert [r.status_code for r in timed_out] == [504, 504]
    assert timed_out[0].json()["detail"].startswith("no reply within 1500 ms")


async def test_unreachable_kafka_is_503_not_a_hang(
    gateways: GatewayStarter, gateway_kafka: KafkaSettings
) -> None:
    nowhere = gateway_kafka.model_copy(update={"bootstrap_servers": f"127.0.0.1:{free_port()}"})
    gateway = await asyncio.to_thread(
        gateways, "gateway-no-kafka", nowhere, reply_partition=0, wait_ready=False
    )

    # The client timeout is far beyond the deadline: a hang fails the test instead of passing.
    async with gateway.client(timeout=30.0) as http:
        lookup = await http.get("/v1/customers/cust-1/journeys")
        ready = await http.get("/readyz")

    assert lookup.status_code == 503
    assert lookup.headers["retry-after"] == "1"
    assert "not connected to Kafka" in lookup.json()["detail"]
    assert ready.status_code == 503


async def test_lookup_cli_prints_the_journeys_from_a_real_gateway(
    gateway_a: GatewayProcess,
) -> None:
    # A subprocess run without blocking the loop: the echo responder runs on this loop.
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli",
        "lookup",
        "cust-7",
        "--url",
        gateway_a.url,
        env={"JOURNEYS_API_KEY": API_KEY, "COLUMNS": "200", "PATH": "/usr/bin:/bin"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    output = stdout.decode()

    assert process.returncode == 0, stderr.decode()
    assert "2 open journeys of cust-7" in output
    assert "Hello cust-7" in output
    assert output.index("j-1") < output.index("j-2")


async def test_kafka_going_away_after_start_is_503_at_the_deadline_not_a_hang(
    gateways: GatewayStarter,
    gateway_kafka: KafkaSettings,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # A second broker, to be killed under the gateway.
    log_path = tmp_path_factory.mktemp("doomed-kafka") / "broker.log"
    broker = local_kafka(log_path=log_path, optimise=False)
    with broker:
        doomed = gateway_kafka.model_copy(update={"bootstrap_servers": broker.bootstrap_servers})
        gateway = await asyncio.to_thread(
            gateways, "gateway-doomed", doomed, reply_partition=2, request_timeout_ms=1_000
        )
        broker.stop(timeout=0)  # SIGTERM then SIGKILL without a grace period: a crash

        async with gateway.client(timeout=30.0) as http:
            lookup = await http.get("/v1/customers/cust-1/journeys")
            ready = await http.get("/readyz")

    assert lookup.status_code == 503
    assert lookup.headers["retry-after"] == "1"
    assert lookup.json()["detail"] == (
        "Kafka did not accept the request before its deadline; retry later"
    )
    assert ready.status_code == 503
    assert ready.json()["checks"]["kafka_reachable"] is False
