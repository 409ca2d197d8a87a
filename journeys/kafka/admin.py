"""Topic administration: create the product's topics when they are missing."""

from __future__ import annotations

import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from journeys.kafka.errors import TopicSetupError
from journeys.kafka.settings import KafkaSettings

log = logging.getLogger(__name__)

#: Kafka protocol error code TOPIC_ALREADY_EXISTS; CreateTopics reports errors per topic in
#: its response instead of raising, so the codes are checked here.
_TOPIC_ALREADY_EXISTS = 36


def product_topics(settings: KafkaSettings) -> tuple[str, str, str]:
    """The requests, replies and dead-letter topic names."""
    return (settings.requests_topic, settings.replies_topic, settings.dlq_topic)


async def ensure_topics(settings: KafkaSettings) -> list[str]:
    """Create the requests, replies and DLQ topics that do not exist yet.

    Each gets ``settings.partitions`` partitions and ``settings.replication_factor`` replicas.
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
            [NewTopic(name, settings.partitions, settings.replication_factor) for name in missing]
        )
        for name, code, message in _topic_errors(response):
            if code == 0:
                created.append(name)
            elif code != _TOPIC_ALREADY_EXISTS:
                raise TopicSetupError(f"cannot create topic {name!r}: {message} (code {code})")
        if created:
            log.info("created topics %s with %d partitions", created, settings.partitions)
    for description in await admin.describe_topics(list(wanted)):
        name, count = description["topic"], len(description["partitions"])
        if description["error_code"] != 0 or count < settings.partitions:
            raise TopicSetupError(
                f"topic {name!r} has {count} partitions, {settings.partitions} are configured"
                f" (error code {description['error_code']})"
            )
    return created


def _topic_errors(response: object) -> list[tuple[str, int, str | None]]:
    # CreateTopicsResponse v0 has (topic, error_code); v1+ add error_message.
    rows: list[tuple[str, int, str | None]] = []
    for entry in getattr(response, "topic_errors", []):
        name, code = entry[0], entry[1]
        message = entry[2] if len(entry) > 2 else None
        rows.append((str(name), int(code), message))
    return rows
