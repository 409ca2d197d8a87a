"""Fixtures: a real Kafka-compatible broker (Tansu) for the session, and per-test settings.

``kafka_broker``    one Tansu process for the whole session (``.bootstrap_servers``)
``kafka_settings``  factory of :class:`KafkaSettings` pointing at it, with uuid topic names so
                    tests never see each other's messages
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from journeys.devstack import EmbeddedBroker, metadata_probe
from journeys.kafka import KafkaSettings
from tests.support.processes import ServerProcess, free_port

KafkaSettingsFactory = Callable[..., KafkaSettings]


@dataclass(frozen=True)
class KafkaBroker:
    """A running broker as tests see it."""

    host: str
    port: int
    process: ServerProcess

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """The real Tansu broker (memory storage) on a free 127.0.0.1 port, for the session."""
    host, port = "127.0.0.1", free_port()
    argv = EmbeddedBroker(port, host).argv()
    with ServerProcess(
        "tansu",
        argv,
        tmp_path_factory.mktemp("kafka"),
        ready=lambda: metadata_probe(host, port, timeout=0.5),
    ) as process:
        yield KafkaBroker(host, port, process)


@pytest.fixture
def kafka_settings(kafka_broker: KafkaBroker) -> KafkaSettingsFactory:
    """Build :class:`KafkaSettings` for the session broker with topics unique to this call."""

    def build(**overrides: Any) -> KafkaSettings:
        suffix = uuid.uuid4().hex[:12]
        values: dict[str, Any] = {
            "bootstrap_servers": kafka_broker.bootstrap_servers,
            "profile": "embedded",
            "requests_topic": f"test.requests.{suffix}",
            "replies_topic": f"test.replies.{suffix}",
            "dlq_topic": f"test.requests.dlq.{suffix}",
            "partitions": 4,
        }
        values.update(overrides)
        return KafkaSettings(**values)

    return build


async def group_members(settings: KafkaSettings, group_id: str) -> list[Any]:
    """The members of consumer group ``group_id`` as the broker describes them now."""
    admin = AIOKafkaAdminClient(**settings.connection_kwargs())
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([group_id])
    finally:
        await admin.close()
    [group] = response.groups
    return list(group[5])  # (error_code, group, state, protocol_type, protocol, members)
