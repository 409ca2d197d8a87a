"""Kafka client settings: the defaults for Apache Kafka, and what overrides win."""

from __future__ import annotations

import os

import pytest

from journeys.kafka import KafkaSettings, consumer_kwargs, producer_kwargs


@pytest.fixture(autouse=True)
def _no_kafka_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The defaults under test, not whatever the shell running the tests exports.
    for name in list(os.environ):
        if name.startswith("JOURNEYS_KAFKA_"):
            monkeypatch.delenv(name)


def test_producers_wait_for_all_replicas_and_are_idempotent_by_default() -> None:
    kwargs = producer_kwargs(KafkaSettings(), role="gateway")
    assert kwargs["acks"] == "all"
    assert kwargs["enable_idempotence"] is True


def test_acks_one_turns_idempotence_off_instead_of_failing() -> None:
    kwargs = producer_kwargs(KafkaSettings(producer_acks="1"), role="x")
    assert (kwargs["acks"], kwargs["enable_idempotence"]) == (1, False)


def test_consumers_wait_long_for_a_fetch_unless_set() -> None:
    defaults = consumer_kwargs(KafkaSettings(), role="r")
    assert (defaults["fetch_max_wait_ms"], defaults["session_timeout_ms"]) == (500, 10_000)
    assert defaults["heartbeat_interval_ms"] == 3_000
    assert defaults["enable_auto_commit"] is False
    set_by_hand = KafkaSettings(fetch_max_wait_ms=50)
    assert consumer_kwargs(set_by_hand, role="r")["fetch_max_wait_ms"] == 50


def test_a_leftover_profile_variable_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    # Older env files set JOURNEYS_KAFKA_PROFILE=apache; the setting is gone, the file still loads.
    monkeypatch.setenv("JOURNEYS_KAFKA_PROFILE", "apache")
    assert consumer_kwargs(KafkaSettings(), role="r")["fetch_max_wait_ms"] == 500
