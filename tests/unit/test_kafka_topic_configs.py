"""The configs the product creates its topics with: retention, and min.insync.replicas when set."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from journeys.kafka import KafkaSettings
from journeys.kafka.admin import topic_configs


@pytest.fixture(autouse=True)
def _no_kafka_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("JOURNEYS_KAFKA_"):
            monkeypatch.delenv(name)


def test_min_insync_replicas_is_left_to_the_broker_unless_set() -> None:
    settings = KafkaSettings()
    for topic in (settings.requests_topic, settings.replies_topic, settings.dlq_topic):
        assert "min.insync.replicas" not in topic_configs(settings, topic)


def test_a_set_min_insync_replicas_reaches_every_topic_the_product_creates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOURNEYS_KAFKA_REPLICATION_FACTOR", "3")
    monkeypatch.setenv("JOURNEYS_KAFKA_MIN_INSYNC_REPLICAS", "2")
    settings = KafkaSettings()
    for topic in (settings.requests_topic, settings.replies_topic, settings.dlq_topic):
        assert topic_configs(settings, topic)["min.insync.replicas"] == "2"
    assert topic_configs(settings, settings.requests_topic)["retention.ms"] == "3600000"


def test_min_insync_replicas_above_the_replication_factor_is_refused() -> None:
    with pytest.raises(ValidationError, match="no write with acks=all could ever succeed"):
        KafkaSettings(replication_factor=1, min_insync_replicas=2)
