"""Fixtures: one real broker for the session, and per-test settings pointing at it.

``kafka_broker``    Apache Kafka (the pinned version, KRaft) when a JDK and its jars are found,
                    else Tansu; the pytest header says which. In CI (``CI=true``) Apache Kafka
                    is required: without it the session stops instead of falling back.
                    ``JOURNEYS_TEST_BROKER=apache|tansu|auto`` chooses by hand.
``kafka_settings``  factory of :class:`KafkaSettings` for it (the broker's client profile), with
                    uuid topic names so tests never see each other's messages
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

from devstack.local_broker import BrokerKind, LocalBroker, choose_broker
from journeys.kafka import BrokerNotFound, KafkaSettings, Profile

KafkaSettingsFactory = Callable[..., KafkaSettings]

_CHOICE_ENV = "JOURNEYS_TEST_BROKER"


def in_ci() -> bool:
    """True on CI (``CI`` set to a true value, as CI services do)."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def wanted_broker() -> BrokerKind:
    """The broker the session asks for: ``apache`` in CI, else ``JOURNEYS_TEST_BROKER``/auto."""
    if in_ci():
        return "apache"
    value = os.environ.get(_CHOICE_ENV, "auto")
    if value not in ("auto", "apache", "tansu"):
        raise pytest.UsageError(f"{_CHOICE_ENV} must be auto, apache or tansu, not {value!r}")
    return value  # type: ignore[return-value]  # checked just above


def describe_session_broker() -> str:
    """One line for the pytest header: which broker this session will run, and why."""
    wanted = wanted_broker()
    try:
        choice = choose_broker(wanted)
    except BrokerNotFound as exc:
        return f"kafka broker: none ({exc})"
    broker = choice.broker
    line = (
        f"kafka broker: {'Apache Kafka' if broker.kind == 'apache' else 'Tansu'} {broker.version}"
    )
    if choice.fallback_reason:
        line += f" (fallback: {choice.fallback_reason})"
    return line


def pytest_report_header(config: pytest.Config) -> str:
    return describe_session_broker()


def pytest_sessionstart(session: pytest.Session) -> None:
    if in_ci():
        try:
            choose_broker("apache")
        except BrokerNotFound as exc:
            pytest.exit(f"CI runs the tests on Apache Kafka, but: {exc}", returncode=3)


@dataclass(frozen=True)
class KafkaBroker:
    """A running broker as tests see it."""

    broker: LocalBroker
    log_path: Path

    @property
    def host(self) -> str:
        return self.broker.host

    @property
    def port(self) -> int:
        return self.broker.port

    @property
    def kind(self) -> str:
        """``apache`` or ``tansu``."""
        return self.broker.kind

    @property
    def version(self) -> str:
        return self.broker.version

    @property
    def profile(self) -> Profile:
        """The client profile for this broker."""
        return "apache" if self.broker.kind == "apache" else "embedded"

    @property
    def bootstrap_servers(self) -> str:
        return self.broker.bootstrap_servers


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """The session's broker on free 127.0.0.1 ports, stopped (and its files removed) at the end."""
    log_path = tmp_path_factory.mktemp("kafka") / "broker.log"
    try:
        choice = choose_broker(wanted_broker(), log_path=log_path, optimise=False)
    except BrokerNotFound as exc:
        pytest.fail(f"no broker for the tests: {exc}")
    with choice.broker as broker:
        yield KafkaBroker(broker, log_path)


@pytest.fixture
def kafka_settings(kafka_broker: KafkaBroker) -> KafkaSettingsFactory:
    """Build :class:`KafkaSettings` for the session broker with topics unique to this call."""

    def build(**overrides: Any) -> KafkaSettings:
        suffix = uuid.uuid4().hex[:12]
        values: dict[str, Any] = {
            "bootstrap_servers": kafka_broker.bootstrap_servers,
            "profile": kafka_broker.profile,
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
