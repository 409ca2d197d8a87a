"""Fixtures: one real Apache Kafka broker for the session, and per-test settings pointing at it.

``kafka_broker``    Apache Kafka (the version pinned in devstack/kafka-pom.xml, one KRaft node);
                    the pytest header says which. Without a JDK or the jars the session stops
                    at once with one line saying what to install.
``kafka_settings``  factory of :class:`KafkaSettings` for it, with uuid topic names so tests
                    never see each other's messages
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from devstack import ApacheKafkaBroker, find_apache_kafka, local_kafka
from journeys.kafka import BrokerNotFound, KafkaSettings

KafkaSettingsFactory = Callable[..., KafkaSettings]


def in_ci() -> bool:
    """True on CI (``CI`` set to a true value, as CI services do)."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_report_header(config: pytest.Config) -> str:
    try:
        install = find_apache_kafka()
    except BrokerNotFound as exc:
        return f"kafka broker: none ({exc})"
    return f"kafka broker: Apache Kafka {install.version} ({install.libs})"


def pytest_sessionstart(session: pytest.Session) -> None:
    try:
        find_apache_kafka()
    except BrokerNotFound as exc:
        pytest.exit(f"the tests run on Apache Kafka, but: {exc}", returncode=3)


@dataclass(frozen=True)
class KafkaBroker:
    """A running broker as tests see it."""

    broker: ApacheKafkaBroker
    log_path: Path

    @property
    def host(self) -> str:
        return self.broker.host

    @property
    def port(self) -> int:
        return self.broker.port

    @property
    def version(self) -> str:
        return self.broker.version

    @property
    def bootstrap_servers(self) -> str:
        return self.broker.bootstrap_servers


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """The session's broker on free 127.0.0.1 ports, stopped (and its files removed) at the end."""
    log_path = tmp_path_factory.mktemp("kafka") / "broker.log"
    try:
        broker = local_kafka(log_path=log_path, optimise=False)
    except BrokerNotFound as exc:
        pytest.fail(f"no broker for the tests: {exc}")
    with broker:
        yield KafkaBroker(broker, log_path)


@pytest.fixture
def kafka_settings(kafka_broker: KafkaBroker) -> KafkaSettingsFactory:
    """Build :class:`KafkaSettings` for the session broker with topics unique to this call."""

    def build(**overrides: Any) -> KafkaSettings:
        suffix = uuid.uuid4().hex[:12]
        values: dict[str, Any] = {
            "bootstrap_servers": kafka_broker.bootstrap_servers,
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
