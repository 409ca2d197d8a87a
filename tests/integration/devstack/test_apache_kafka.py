"""The Apache Kafka broker of the tests, benchmarks and ``journeys up``: what it really runs.

The version is the one the broker itself reports at start, compared with the pin in
devstack/kafka-pom.xml; the retention is what the broker describes for our topics.
"""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from devstack import ApacheKafkaBroker, metadata_probe, pinned_version
from journeys.contract import DLQ_RETENTION_MS, REQUESTS_RETENTION_MS
from journeys.kafka import KafkaSettings, ensure_topics
from tests.support.kafka_fixtures import KafkaBroker, KafkaSettingsFactory

pytestmark = pytest.mark.integration


@pytest.fixture
def apache_kafka(kafka_broker: KafkaBroker) -> ApacheKafkaBroker:
    return kafka_broker.broker


def test_the_session_broker_is_the_pinned_apache_kafka(apache_kafka: ApacheKafkaBroker) -> None:
    assert apache_kafka.running()
    assert apache_kafka.reported_version() == pinned_version() == apache_kafka.version


async def _described_configs(
    settings: KafkaSettings, topics: list[str]
) -> dict[str, dict[str, str]]:
    admin = AIOKafkaAdminClient(**settings.connection_kwargs())
    await admin.start()
    try:
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic) for topic in topics]
        )
    finally:
        await admin.close()
    configs: dict[str, dict[str, str]] = {}
    for response in responses:
        for error_code, _message, _type, name, entries in response.resources:
            assert error_code == 0, name
            configs[name] = {entry[0]: entry[1] for entry in entries}
    return configs


async def test_our_topics_get_the_retention_the_wire_contract_recommends(
    apache_kafka: ApacheKafkaBroker, kafka_settings: KafkaSettingsFactory
) -> None:
    settings = kafka_settings()
    await ensure_topics(settings)

    configs = await _described_configs(
        settings, [settings.requests_topic, settings.replies_topic, settings.dlq_topic]
    )

    for hot in (settings.requests_topic, settings.replies_topic):
        assert configs[hot]["retention.ms"] == str(REQUESTS_RETENTION_MS)
        assert configs[hot]["segment.ms"] == str(REQUESTS_RETENTION_MS)
        assert configs[hot]["cleanup.policy"] == "delete"
        assert configs[hot]["message.timestamp.type"] == "LogAppendTime"
    assert configs[settings.dlq_topic]["retention.ms"] == str(DLQ_RETENTION_MS)


def test_a_broker_started_without_a_directory_removes_its_own_on_stop(
    apache_kafka: ApacheKafkaBroker,
) -> None:
    broker = ApacheKafkaBroker(install=apache_kafka.install)
    with broker:
        assert metadata_probe(broker.host, broker.port)
        assert (broker.data_dir / "logs" / "meta.properties").exists()
        assert broker.reported_version() == apache_kafka.version
    assert not broker.running()
    assert not broker.data_dir.exists()
    assert not metadata_probe(broker.host, broker.port)
