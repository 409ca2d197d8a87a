"""Consumers ask who leads their partitions every second, not every five minutes.

aiokafka fetches without a leader epoch, so Apache Kafka serves it from a former leader (a
follower after a preferred-leader election, a broker in controlled shutdown) until its metadata
is refreshed: aiokafka's default (300 s) left responders reading requests late after a leader
change, and up to 2 s of nothing while the old leader shut down.
"""

from __future__ import annotations

import os

import pytest

from journeys.kafka import KafkaSettings, consumer_kwargs


@pytest.fixture(autouse=True)
def _no_kafka_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("JOURNEYS_KAFKA_"):
            monkeypatch.delenv(name)


def test_consumers_refresh_their_metadata_every_second_by_default() -> None:
    assert consumer_kwargs(KafkaSettings(), role="r")["metadata_max_age_ms"] == 1_000


def test_the_consumer_metadata_age_can_be_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOURNEYS_KAFKA_CONSUMER_METADATA_MAX_AGE_MS", "500")
    assert consumer_kwargs(KafkaSettings(), role="r")["metadata_max_age_ms"] == 500
