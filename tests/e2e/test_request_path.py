"""The request path with every piece a real process: gateway → Kafka → responder → store.

Each test names the behaviour it proves. Waits are polls with a timeout; no test asserts a
timing (a 504 that came long after its deadline would run into the client's timeout instead).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from journeys.contract import Header
from tests.support.metrics_scrape import scrape
from tests.support.processes import wait_until
from tests.support.stack_fixtures import Gateway, ProcessStack, SharedStack

pytestmark = pytest.mark.e2e

DEMO_CUSTOMER = "cust-0000001"


def _journeys_path(customer: str, status: str = "open") -> str:
    return f"/v1/customers/{customer}/journeys?status={status}"


def wait_answering(stack: ProcessStack, gateway: Gateway, timeout: float = 90.0) -> None:
    """Block until a lookup through ``gateway`` succeeds (responders have joined the group)."""
    with stack.http(gateway) as client:
        wait_until(
            lambda: client.get(_journeys_path(DEMO_CUSTOMER)).status_code == 200,
            timeout,
            "a lookup through Kafka",
            interval=0.5,
        )


@pytest.fixture(scope="module")
def answering(shared_stack: SharedStack) -> SharedStack:
    wait_answering(shared_stack.stack, shared_stack.gateway)
    return shared_stack


@pytest.mark.parametrize("status", ["open", "closed", "all"])
def test_lookup_returns_exactly_the_store_journeys(answering: SharedStack, status: str) -> None:
    stack = answering.stack
    customers = [f"cust-{i:07d}" for i in (1, 2, 17, 150)]
    with stack.http(answering.gateway) as client, stack.store_client("reader") as store:
        for customer in customers:
            rows = store.lookup([customer], status=status).to_pylist()
            response = client.get(_journeys_path(customer, status))
            if not rows:
                assert response.status_code == 404
                continue
            assert response.status_code == 200, response.text
            got = response.json()["journeys"]
            assert [j["priority"] for j in got] == sorted(j["priority"] for j in got)
            assert {j["journey_id"] for j in got} == {r["journey_id"] for r in rows}
            by_id = {r["journey_id"]: r for r in rows}
            for journey in got:
                row = by_id[journey["journey_id"]]
                for column in ("campaign", "journey_name", "step", "channel", "status"):
                    assert journey[column] == row[column], column
                assert journey["content"]["title"] == row["content"]["title"]
                assert journey["attributes"] == orjson.loads(row["attributes"])


def test_an_unchanged_answer_revalidates_to_304_through_kafka(answering: SharedStack) -> None:
    path = _journeys_path(DEMO_CUSTOMER, "all")
    with answering.stack.http(answering.gateway) as client:
        first = client.get(path)
        again = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
        stale = client.get(path, headers={"If-None-Match": '"0123456789abcdef0123456789abcdef"'})

    assert first.status_code == 200, first.text
    assert first.headers["Cache-Control"] == "private, no-cache"
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["X-Correlation-Id"] != first.headers["X-Correlation-Id"]  # asked again
    assert stale.status_code == 200
    assert stale.json() == first.json()


def test_unknown_customer_is_404(answering: SharedStack) -> None:
    with answering.stack.http(answering.gateway) as client:
        response = client.get(_journeys_path("cust-9999999"))
    assert response.status_code == 404
    assert "detail" in response.json()


@pytest.mark.parametrize("bad_id", ["no spaces allowed", "x" * 65, "-leading-dash", "semi;colon"])
def test_malformed_customer_id_is_422(answering: SharedStack, bad_id: str) -> None:
    with answering.stack.http(answering.gateway) as client:
        response = client.get(_journeys_path(bad_id))
    assert response.status_code == 422
    assert "detail" in response.json()


def test_missing_api_key_is_401(answering: SharedStack) -> None:
    url = answering.gateway.url + _journeys_path(DEMO_CUSTOMER)
    assert httpx.get(url, timeout=10).status_code == 401
    assert httpx.get(url, headers={"X-API-Key": "wrong" * 5}, timeout=10).status_code == 401


def test_garbage_on_the_request_topic_goes_to_the_dlq_and_the_responder_keeps_answering(
    answering: SharedStack,
) -> None:
    stack = answering.stack

    async def produce_garbage_and_read_dlq() -> list[tuple[bytes | None, dict[str, bytes]]]:
        producer = AIOKafkaProducer(bootstrap_servers=stack.broker.bootstrap_servers)
        consumer = AIOKafkaConsumer(
            stack.dlq_topic,
            bootstrap_servers=stack.broker.bootstrap_servers,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            fetch_max_wait_ms=50,
        )
        await producer.start()
        await consumer.start()
        try:
            await producer.send_and_wait(stack.requests_topic, b"\x00not json{", key=b"x")
            await producer.send_and_wait(
                stack.requests_topic,
                b'{"customer_id": 42}',
                key=b"y",
                headers=[(Header.CORRELATION_ID, b"abc"), (Header.REPLY_PARTITION, b"0")],
            )
            found: list[tuple[bytes | None, dict[str, bytes]]] = []
            async with asyncio.timeout(60):
                while len(found) < 2:
                    batch = await consumer.getmany(timeout_ms=500)
                    for records in batch.values():
                        found += [(r.value, dict(r.headers)) for r in records]
            return found
        finally:
            await consumer.stop()
            await producer.stop()

    dead = asyncio.run(produce_garbage_and_read_dlq())
    assert {value for value, _ in dead} == {b"\x00not json{", b'{"customer_id": 42}'}
    assert all(headers.get(Header.REASON) for _, headers in dead)
    with stack.http(answering.gateway) as client:
        assert client.get(_journeys_path(DEMO_CUSTOMER)).status_code == 200
    assert (
        scrape(answering.responder.metrics_url).total("journeys_responder_dead_letters_total") >= 2
    )


def test_two_responder_processes_both_receive_partitions_and_every_request_is_answered(
    process_stack: ProcessStack,
) -> None:
    process_stack.start_store()
    process_stack.seed(300)
    first = process_stack.start_responder("responder-1")
    second = process_stack.start_responder("responder-2")
    gateway = process_stack.start_gateway()
    wait_answering(process_stack, gateway)

    def both_have_partitions() -> bool:
        with process_stack.http(gateway) as client:
            for i in range(1, 41):
                client.get(_journeys_path(f"cust-{i:07d}"))
        counts = [
            scrape(r.metrics_url).total("journeys_responder_requests_total")
            for r in (first, second)
        ]
        return all(count > 0 for count in counts)

    wait_until(both_have_partitions, 90, "both responders consuming", interval=1.0)

    customers = [f"cust-{i:07d}" for i in range(1, 301)]
    with process_stack.http(gateway) as client, ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda c: client.get(_journeys_path(c, "all")), customers))
    assert [r.status_code for r in responses] == [200] * len(customers)
    assert [r.json()["customer_id"] for r in responses] == customers


def test_two_gateway_instances_each_receive_only_their_own_replies(
    process_stack: ProcessStack,
) -> None:
    process_stack.start_store()
    process_stack.seed(100)
    process_stack.start_responder()
    gateways = [
        process_stack.start_gateway("gateway-a", reply_partition=0),
        process_stack.start_gateway("gateway-b", reply_partition=1),
    ]
    for gateway in gateways:
        wait_answering(process_stack, gateway)

    def ask(job: tuple[Gateway, str]) -> tuple[str, httpx.Response]:
        gateway, customer = job
        with process_stack.http(gateway) as client:
            return customer, client.get(_journeys_path(customer, "all"))

    jobs = [(gateways[i % 2], f"cust-{i:07d}") for i in range(1, 101)]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(ask, jobs))
    for customer, response in results:
        assert response.status_code == 200, response.text
        assert response.json()["customer_id"] == customer
    # A reply meant for the other gateway would be dropped as "foreign" or "unknown". Late
    # and duplicate replies are legitimate: on a slow machine a hedged request's second copy is
    # answered too, and only the first answer is matched.
    for gateway in gateways:
        samples = scrape(gateway.metrics_url)
        for reason in ("foreign", "unknown", "uncorrelated"):
            dropped = samples.total("journeys_gateway_dropped_replies_total", reason=reason)
            assert dropped == 0, (reason, dropped)
        assert samples.total("journeys_gateway_replies_total") >= 50


def test_with_the_responder_stopped_requests_get_504_at_their_deadline(
    process_stack: ProcessStack,
) -> None:
    responder, gateway = process_stack.start_path(10, JOURNEYS_GATEWAY_REQUEST_TIMEOUT_MS="1000")
    wait_answering(process_stack, gateway)
    responder.process.stop()

    # No timing assertion (tests assert none): a hang past the deadline would hit the client's
    # timeout and fail the call; the answer must name the gateway's own 1000 ms deadline.
    with process_stack.http(gateway, timeout=5.0) as client:
        response = client.get(_journeys_path(DEMO_CUSTOMER))
    assert response.status_code == 504, response.text
    assert "1000 ms" in response.json()["detail"]


def test_with_the_store_stopped_requests_get_503(process_stack: ProcessStack) -> None:
    store = process_stack.start_store()
    process_stack.seed(10)
    process_stack.start_responder()
    gateway = process_stack.start_gateway()
    wait_answering(process_stack, gateway)
    store.stop()

    with process_stack.http(gateway) as client:
        response = client.get(_journeys_path(DEMO_CUSTOMER))
    assert response.status_code == 503, response.text
    assert "Retry-After" in response.headers


def test_requests_already_expired_when_polled_are_not_looked_up(
    process_stack: ProcessStack,
) -> None:
    responder, gateway = process_stack.start_path(10, JOURNEYS_GATEWAY_REQUEST_TIMEOUT_MS="300")
    wait_answering(process_stack, gateway)
    responder.process.stop()

    # While no responder runs, these requests wait on the topic until their deadline passes.
    with process_stack.http(gateway) as client:
        statuses = [client.get(_journeys_path(DEMO_CUSTOMER)).status_code for _ in range(5)]
    assert statuses == [504] * 5
    lookups_before = _store_lookups(process_stack)

    restarted = process_stack.start_responder("responder-restarted")
    wait_until(
        lambda: (
            scrape(restarted.metrics_url).total("journeys_responder_expired_requests_total") >= 5
        ),
        60,
        "expired requests counted",
    )
    assert scrape(restarted.metrics_url).total("journeys_responder_replies_total", status="ok") == 0
    assert _store_lookups(process_stack) == lookups_before


def _store_lookups(stack: ProcessStack) -> float:
    samples = scrape(stack.store_metrics_url)
    return samples.total("journeys_store_call_seconds_count", operation="lookup")


def test_beyond_the_in_flight_bound_requests_get_429(process_stack: ProcessStack) -> None:
    process_stack.start_store()
    process_stack.seed(10)
    responder = process_stack.start_responder()
    gateway = process_stack.start_gateway(
        JOURNEYS_GATEWAY_MAX_IN_FLIGHT="2", JOURNEYS_GATEWAY_REQUEST_TIMEOUT_MS="3000"
    )
    wait_answering(process_stack, gateway)
    responder.process.stop()  # replies never come, so requests stay in flight until 504

    with process_stack.http(gateway) as client, ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(lambda _: client.get(_journeys_path(DEMO_CUSTOMER)), range(6)))
    codes = sorted(r.status_code for r in responses)
    assert codes.count(429) >= 4, codes
    assert set(codes) <= {429, 504}, codes
    assert all("Retry-After" in r.headers for r in responses if r.status_code == 429)
