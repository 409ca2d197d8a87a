"""Topic administration: create the product's topics when they are missing."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from journeys.contract import DLQ_RETENTION_MS, REQUESTS_RETENTION_MS
from journeys.kafka.errors import TopicSetupError
from journeys.kafka.settings import KafkaSettings

log = logging.getLogger(__name__)

#: Kafka protocol error code TOPIC_ALREADY_EXISTS; CreateTopics reports errors per topic in
#: its response instead of raising, so the codes are checked here.
_TOPIC_ALREADY_EXISTS = 36
#: UNKNOWN_TOPIC_OR_PARTITION and LEADER_NOT_AVAILABLE: a topic created a moment ago.
_LEADER_NOT_AVAILABLE = 5
_NOT_YET = frozenset({3, _LEADER_NOT_AVAILABLE})
_TOO_FEW = -1
_METADATA_WAIT_S = 15.0


def product_topics(settings: KafkaSettings) -> tuple[str, str, str]:
    """The requests, replies and dead-letter topic names."""
    return (settings.requests_topic, settings.replies_topic, settings.dlq_topic)


def topic_configs(settings: KafkaSettings, topic: str) -> dict[str, str]:
    """The configs a topic is created with: the wire contract's retention, as in
    deploy/kafka/create-topics.sh (segments as long as the retention so it can bite, and the
    broker's timestamps on the short-lived topics), and ``min.insync.replicas`` when set."""
    durability = (
        {}
        if settings.min_insync_replicas is None
        else {"min.insync.replicas": str(settings.min_insync_replicas)}
    )
    if topic == settings.dlq_topic:
        return {"cleanup.policy": "delete", "retention.ms": str(DLQ_RETENTION_MS), **durability}
    retention = str(REQUESTS_RETENTION_MS)
    return {
        "cleanup.policy": "delete",
        "retention.ms": retention,
        "segment.ms": retention,
        "message.timestamp.type": "LogAppendTime",
        **durability,
    }


async def ensure_topics(settings: KafkaSettings) -> list[str]:
    """Create the requests, replies and DLQ topics that do not exist yet.

    Each gets ``settings.partitions`` partitions, ``settings.replication_factor`` replicas and
    :func:`topic_configs` (the recommended retention, ``settings.min_insync_replicas``).
    A topic created concurrently by another process is fine. Existing topics are checked to
    have at least ``settings.partitions`` partitions (a gateway's reply partition must exist).
    Returns the names of the topics this call created; raises :class:`TopicSetupError`.
    """
    admin = AIOKafkaAdminClient(
        client_id=f"{settings.client_id}-admin", **settings.connection_kwargs()
    )
    try:
        await admin.start()
        try:
            return await _ensure(admin, settings)
        finally:
            await admin.close()
    except KafkaError as exc:
        raise TopicSetupError(
            f"cannot set up topics on {settings.bootstrap_servers}: {exc}"
        ) from exc


async def _ensure(admin: AIOKafkaAdminClient, settings: KafkaSettings) -> list[str]:
    wanted = product_topics(settings)
    existing = set(await admin.list_topics())
    missing = [name for name in wanted if name not in existing]
    created: list[str] = []
    if missing:
        response = await admin.create_topics(
            [
                NewTopic(
                    name,
                    settings.partitions,
                    settings.replication_factor,
                    topic_configs=topic_configs(settings, name),
                )
                for name in missing
            ]
        )
        for name, code, message in _topic_errors(response):
            if code == 0:
                created.append(name)
            elif code != _TOPIC_ALREADY_EXISTS:
                raise TopicSetupError(f"cannot create topic {name!r}: {message} (code {code})")
        if created:
            log.info("created topics %s with %d partitions", created, settings.partitions)
    await _check_partitions(admin, settings, wanted)
    return created


async def _check_partitions(
    admin: AIOKafkaAdminClient, settings: KafkaSettings, wanted: tuple[str, ...]
) -> None:
    """Every topic has enough partitions, each with a leader.

    Apache Kafka answers CreateTopics before every broker's metadata has the new topic, so a
    topic that is unknown or leaderless right after creation is asked about again, for a while.
    """
    deadline = asyncio.get_running_loop().time() + _METADATA_WAIT_S
    while True:
        problems = [
            problem
            for description in await admin.describe_topics(list(wanted))
            if (problem := _partition_problem(description, settings.partitions)) is not None
        ]
        if not problems:
            return
        transient = all(code in _NOT_YET for code, _ in problems)
        if not transient or asyncio.get_running_loop().time() > deadline:
            raise TopicSetupError(problems[0][1])
        await asyncio.sleep(0.1)


def _partition_problem(description: dict[str, Any], wanted: int) -> tuple[int, str] | None:
    name, code = description["topic"], int(description["error_code"])
    partitions = description["partitions"]
    count = len(partitions)
    if code == 0 and count >= wanted:
        if all(p["error_code"] == 0 and p["leader"] >= 0 for p in partitions):
            return None
        return _LEADER_NOT_AVAILABLE, f"topic {name!r} has partitions without a leader"
    message = f"topic {name!r} has {count} partitions, {wanted} are configured (error code {code})"
    return (code if code != 0 else _TOO_FEW), message


def _topic_errors(response: object) -> list[tuple[str, int, str | None]]:
    # CreateTopicsResponse v0 has (topic, error_code); v1+ add error_message.
    rows: list[tuple[str, int, str | None]] = []
    for entry in getattr(response, "topic_errors", []):
        name, code = entry[0], entry[1]
        message = entry[2] if len(entry) > 2 else None
        rows.append((str(name), int(code), message))
    return rows
