"""With one of two responders stalled (SIGSTOP), the gateway's hedges answer every lookup."""

from __future__ import annotations

import asyncio
import re
import signal
import time

import httpx
import pytest

from journeys.kafka import KafkaSettings
from tests.support.kafka_fixtures import group_members
from tests.support.stack_fixtures import ProcessStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} not exposed"
    return float(match.group(1))


def wait_for_members(stack: ProcessStack, count: int, timeout: float = 60.0) -> None:
    env = stack.kafka_env()
    settings = KafkaSettings(
        bootstrap_servers=env["JOURNEYS_KAFKA_BOOTSTRAP_SERVERS"],
        requests_topic=stack.requests_topic,
        replies_topic=stack.replies_topic,
        dlq_topic=stack.dlq_topic,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(asyncio.run(group_members(settings, f"e2e-{stack.suffix}"))) == count:
            return
        time.sleep(0.3)
    raise TimeoutError(f"the responders' group did not reach {count} members")


def test_a_stalled_responder_is_covered_by_hedges_to_the_other(
    process_stack: ProcessStack,
) -> None:
    stack = process_stack
    stack.start_store()
    stack.seed(40)
    stalled = stack.start_responder("responder-1", JOURNEYS_RESPONDER_GROUP_INSTANCE_ID="r1")
    stack.start_responder("responder-2", JOURNEYS_RESPONDER_GROUP_INSTANCE_ID="r2")
    gateway = stack.start_gateway(JOURNEYS_GATEWAY_HEDGE_DELAY_CEILING_MS="300")
    wait_for_members(stack, 2)
    customers = [f"cust-{n:07d}" for n in range(1, 41)]
    with stack.http(gateway) as http:
        for customer in customers:  # both responders answer: the stack is healthy
            assert http.get(f"/v1/customers/{customer}/journeys").status_code in (200, 404)

        stalled.process.signal(signal.SIGSTOP)
        try:
            statuses = [
                http.get(f"/v1/customers/{customer}/journeys").status_code for customer in customers
            ]
            metrics = http.get("/metrics").text
        finally:
            stalled.process.signal(signal.SIGCONT)

    assert set(statuses) <= {200, 404}, statuses
    # Half the customers' partitions belong to the stalled responder: their hedges won.
    assert metric(metrics, "journeys_gateway_hedges_won_total") >= 1
    assert metric(metrics, "journeys_gateway_hedges_sent_total") >= 1
    assert httpx.get(f"{gateway.url}/readyz", timeout=5).status_code == 200
