"""The chaos suite's topology: store, two responders and two gateways as real processes."""

from __future__ import annotations

import asyncio
import re
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from journeys.kafka import KafkaSettings
from tests.chaos.load import Expected, LoadClient, LoadReport
from tests.support.kafka_fixtures import KafkaBroker, group_members
from tests.support.stack_fixtures import Gateway, ProcessStack, Responder

CUSTOMERS = 200
#: ``name{labels} value`` lines of a Prometheus text page (counters and gauges).
_REPORTED = ("journeys_gateway_hedges", "journeys_gateway_resent", "journeys_gateway_rerouted")
_COUNTER_LINE = re.compile(r"^([a-z_]+(?:_total)?(?:\{[^}]*\})?) ([0-9.e+-]+)$", re.MULTILINE)


@dataclass
class ChaosStack:
    """The running topology and what every answer must be."""

    stack: ProcessStack
    responders: list[Responder]
    gateways: list[Gateway]
    expected: Expected = field(default_factory=dict)

    def load(self, rate: float = 100.0) -> LoadClient:
        return LoadClient([g.url for g in self.gateways], self.stack.api_key, self.expected, rate)

    @property
    def group_id(self) -> str:
        return f"e2e-{self.stack.suffix}"

    def kafka_settings(self) -> KafkaSettings:
        env = self.stack.kafka_env()
        return KafkaSettings(
            bootstrap_servers=env["JOURNEYS_KAFKA_BOOTSTRAP_SERVERS"],
            requests_topic=self.stack.requests_topic,
            replies_topic=self.stack.replies_topic,
            dlq_topic=self.stack.dlq_topic,
            partitions=int(env["JOURNEYS_KAFKA_PARTITIONS"]),
        )

    def gateway_counters(self) -> dict[str, dict[str, float]]:
        """Each gateway's hedge and resend counters (published with a scenario's figures)."""
        counters: dict[str, dict[str, float]] = {}
        for gateway in self.gateways:
            try:
                text = httpx.get(gateway.metrics_url, timeout=5.0).text
            except httpx.HTTPError as exc:
                counters[gateway.url] = {"unreadable": 1.0}
                print(f"metrics of {gateway.url} unreadable: {exc}")
                continue
            counters[gateway.url] = {
                name: float(value)
                for name, value in _COUNTER_LINE.findall(text)
                if name.startswith(_REPORTED) and "_created" not in name
            }
        return counters

    def wait_for_group(self, members: int, timeout: float = 30.0) -> None:
        """Until the responders' group has ``members`` members (a rebalance is over)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = asyncio.run(group_members(self.kafka_settings(), self.group_id))
            if len(found) == members:
                return
            time.sleep(0.3)
        raise TimeoutError(f"group {self.group_id} did not reach {members} members")


def read_expected(stack: ProcessStack, customers: list[str]) -> Expected:
    """The store's open journeys per customer, as (journey_id, priority) pairs."""
    with stack.store_client() as client:
        table = client.lookup(customers, "open")
    expected: dict[str, list[tuple[str, int]]] = {customer: [] for customer in customers}
    rows = defaultdict(list)
    for customer, journey, priority in zip(
        table.column("customer_id").to_pylist(),
        table.column("journey_id").to_pylist(),
        table.column("priority").to_pylist(),
        strict=True,
    ):
        rows[customer].append((journey, priority))
    for customer, pairs in rows.items():
        expected[customer] = sorted(pairs)
    return expected


def start_responder(stack: ProcessStack, n: int, incarnation: int = 0) -> Responder:
    """Responder ``n`` (static member ``responder-n``); ``incarnation`` names its log file."""
    name = f"responder-{n}" + (f"-restart-{incarnation}" if incarnation else "")
    return stack.start_responder(name, JOURNEYS_RESPONDER_GROUP_INSTANCE_ID=f"responder-{n}")


def build_chaos_stack(stack: ProcessStack) -> ChaosStack:
    """Start the topology on ``stack`` and read the expected answers from the store."""
    stack.start_store()
    stack.seed(CUSTOMERS)
    responders = [start_responder(stack, n) for n in (1, 2)]
    gateways = [stack.start_gateway(f"gateway-{n}", reply_partition=n) for n in (0, 1)]
    with stack.store_client("offloader") as client:
        customers = sorted(set(client.scan("all").read_all().column("customer_id").to_pylist()))
    chaos = ChaosStack(stack, responders, gateways, read_expected(stack, customers))
    chaos.wait_for_group(2)
    # Warm-up: every customer once, so the store cache and the hedge delay are settled.
    warm = asyncio.run(chaos.load(rate=200).run("warm-up", seconds=1.0))
    if warm.wrong or warm.failed:
        raise RuntimeError(f"the stack failed before any fault: {warm.summary()}")
    return chaos


@pytest.fixture(scope="module")
def chaos_stack(
    kafka_broker: KafkaBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ChaosStack]:
    """Store (200 customers), two responders, two gateways on fresh topics, for one module.

    Each scenario leaves the topology as it found it (it restarts what it stopped).
    """
    stack = ProcessStack(kafka_broker, tmp_path_factory.mktemp("chaos"))
    try:
        yield build_chaos_stack(stack)
    finally:
        stack.close()


def assert_no_failures(report: LoadReport) -> None:
    """The chaos target: 0 failed requests (wrong answers are asserted before this, always)."""
    if report.failed:
        raise AssertionError(f"{len(report.failed)} requests failed: {report.summary()}")
