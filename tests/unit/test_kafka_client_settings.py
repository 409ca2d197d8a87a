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


async def test_a_partition_that_cannot_drain_does_not_make_send_wait() -> None:
    """While one partition's batch awaits its acknowledgement (its leader moving), ``send()``
    for that partition must not wait: the responder awaits it, and waiting would hold every
    other gateway's replies (seen as ~1 s stalls in the cluster crash test). aiokafka's send
    waits once the partition's buffered batch is full (``max_batch_size``); ours holds 200
    replies of 1 KB, aiokafka's default (16 KiB) not 20."""
    from aiokafka.errors import KafkaTimeoutError
    from aiokafka.producer.message_accumulator import MessageAccumulator
    from aiokafka.structs import TopicPartition

    async def buffered(max_batch_size: int) -> int:
        # What AIOKafkaProducer.send() appends to; no sender runs, so nothing ever drains.
        accumulator = MessageAccumulator(None, max_batch_size, 0, 30.0)
        partition = TopicPartition("replies", 0)
        for sent in range(200):
            try:
                await accumulator.add_message(partition, None, b"r" * 1_000, timeout=0.05)
            except KafkaTimeoutError:
                return sent
        return 200

    ours = producer_kwargs(KafkaSettings(), role="responder")["max_batch_size"]
    assert await buffered(ours) == 200
    assert await buffered(16 * 1024) < 20


def test_a_batch_buffer_beyond_what_a_broker_accepts_is_refused() -> None:
    with pytest.raises(ValueError, match="producer_max_batch_bytes"):
        KafkaSettings(producer_max_batch_bytes=2_000_000)
