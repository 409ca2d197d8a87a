"""Real gateway processes (``journeys gateway serve``) on the session's Tansu broker."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from journeys.kafka import KafkaSettings, ensure_topics
from tests.integration.api.echo_responder import EchoResponder
from tests.support.kafka_fixtures import KafkaBroker
from tests.support.processes import ChildProcess, free_port, journeys_command

API_KEY = "integration-key-5d1e0a7b3c"


@dataclass
class GatewayProcess:
    """A running ``journeys gateway serve`` and how to reach it."""

    process: ChildProcess
    url: str
    reply_partition: int

    def client(self, timeout: float = 10.0) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers={"X-API-Key": API_KEY}, timeout=timeout)


def kafka_env(kafka: KafkaSettings) -> dict[str, str]:
    """The JOURNEYS_KAFKA_* environment that reproduces ``kafka`` in a child process."""
    fields = (
        "bootstrap_servers",
        "profile",
        "requests_topic",
        "replies_topic",
        "dlq_topic",
        "partitions",
        "create_topics",
    )
    return {f"JOURNEYS_KAFKA_{name.upper()}": str(getattr(kafka, name)) for name in fields}


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def start_gateway(
    name: str,
    kafka: KafkaSettings,
    log_dir: Path,
    *,
    reply_partition: int,
    wait_ready: bool = True,
    **settings: object,
) -> GatewayProcess:
    """Start one gateway process; wait for /readyz (or only /healthz when Kafka is absent)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("JOURNEYS_")}
    env.update(kafka_env(kafka))
    env.update(
        {
            "JOURNEYS_GATEWAY_PORT": str(port),
            "JOURNEYS_GATEWAY_API_KEYS": API_KEY,
            "JOURNEYS_GATEWAY_REPLY_PARTITION": str(reply_partition),
            **{f"JOURNEYS_GATEWAY_{key.upper()}": str(value) for key, value in settings.items()},
        }
    )
    probe = f"{url}/readyz" if wait_ready else f"{url}/healthz"
    process = ChildProcess(
        name,
        journeys_command("gateway", "serve"),
        log_dir / f"{name}.log",
        env=env,
        ready=lambda: http_ok(probe),
        ready_timeout_s=180.0,
    )
    process.start()
    return GatewayProcess(process, url, reply_partition)


@pytest.fixture(scope="module")
def gateway_kafka(kafka_broker: KafkaBroker) -> KafkaSettings:
    """Kafka settings with topics unique to this module (4 partitions)."""
    suffix = uuid.uuid4().hex[:12]
    return KafkaSettings(
        bootstrap_servers=kafka_broker.bootstrap_servers,
        profile=kafka_broker.profile,
        requests_topic=f"test.requests.{suffix}",
        replies_topic=f"test.replies.{suffix}",
        dlq_topic=f"test.requests.dlq.{suffix}",
        partitions=4,
    )


@pytest.fixture(scope="module")
async def echo_responder(gateway_kafka: KafkaSettings) -> AsyncIterator[EchoResponder]:
    """The topics, created, and a test-only responder answering on them."""
    await ensure_topics(gateway_kafka)
    responder = EchoResponder(gateway_kafka)
    await responder.start()
    try:
        yield responder
    finally:
        await responder.stop()


GatewayStarter = Callable[..., GatewayProcess]


@pytest.fixture(scope="module")
def gateways(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[GatewayStarter]:
    """Start gateway processes for this module; every one is stopped at the end."""
    log_dir = tmp_path_factory.mktemp("gateways")
    started: list[GatewayProcess] = []

    def start(name: str, kafka: KafkaSettings, **kwargs: object) -> GatewayProcess:
        gateway = start_gateway(name, kafka, log_dir, **kwargs)  # type: ignore[arg-type]
        started.append(gateway)
        return gateway

    try:
        yield start
    finally:
        for gateway in reversed(started):
            gateway.process.stop()
