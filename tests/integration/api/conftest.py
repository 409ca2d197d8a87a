"""Real gateway processes (``journeys gateway serve``) on the session's broker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from journeys.kafka import KafkaSettings, ensure_topics
from tests.integration.api.echo_responder import EchoResponder
from tests.support.gateway_process import GatewayProcess, GatewayStarter, start_gateway
from tests.support.kafka_fixtures import KafkaBroker


@pytest.fixture(scope="module")
def gateway_kafka(kafka_broker: KafkaBroker) -> KafkaSettings:
    """Kafka settings with topics unique to this module (4 partitions)."""
    suffix = uuid.uuid4().hex[:12]
    return KafkaSettings(
        bootstrap_servers=kafka_broker.bootstrap_servers,
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
