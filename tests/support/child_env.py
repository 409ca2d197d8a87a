"""What tests hand a child process (its Kafka environment) and how they probe it (HTTP 200)."""

from __future__ import annotations

import httpx

from journeys.kafka import KafkaSettings


def kafka_env(kafka: KafkaSettings) -> dict[str, str]:
    """The JOURNEYS_KAFKA_* environment that reproduces ``kafka`` in a child process."""
    fields = (
        "bootstrap_servers",
        "requests_topic",
        "replies_topic",
        "dlq_topic",
        "partitions",
        "create_topics",
    )
    return {f"JOURNEYS_KAFKA_{name.upper()}": str(getattr(kafka, name)) for name in fields}


def http_ok(url: str) -> bool:
    """Whether ``url`` answers 200 now."""
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False
