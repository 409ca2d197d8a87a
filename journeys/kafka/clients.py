"""Factories for aiokafka producers and consumers tuned by :class:`KafkaSettings`.

Both sides of the request path build their clients here so that a setting reaches every
client. The clients are returned unstarted: the caller owns them with ``async with``
(aiokafka clients are async context managers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import (
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    KafkaError,
    OutOfOrderSequenceNumber,
    UnknownProducerId,
)

from journeys.kafka.settings import KafkaSettings

log = logging.getLogger(__name__)

#: Produce errors after which an idempotent producer never succeeds again: its sequence numbers
#: no longer match the broker's (e.g. batches that expired while the broker was down left a
#: gap). The Java client bumps its epoch; aiokafka does not, so only a new producer recovers.
PRODUCER_BROKEN: tuple[type[KafkaError], ...] = (
    OutOfOrderSequenceNumber,
    UnknownProducerId,
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
)


def producer_kwargs(settings: KafkaSettings, *, role: str) -> dict[str, Any]:
    """aiokafka producer keyword arguments for ``settings``; ``role`` names the client."""
    configured = settings.producer_acks
    acks: int | str = "all" if configured == "all" else int(configured)
    return {
        "client_id": f"{settings.client_id}-{role}",
        "acks": acks,
        "linger_ms": settings.producer_linger_ms,
        "max_batch_size": settings.producer_max_batch_bytes,
        "enable_idempotence": settings.idempotent_producer(),
        **settings.connection_kwargs(),
    }


def consumer_kwargs(settings: KafkaSettings, *, role: str) -> dict[str, Any]:
    """aiokafka consumer keyword arguments for ``settings`` (manual commits; metadata refreshed
    every ``consumer_metadata_max_age_ms``, see :mod:`journeys.kafka.settings`)."""
    return {
        "client_id": f"{settings.client_id}-{role}",
        "fetch_max_wait_ms": settings.fetch_max_wait_ms,
        "metadata_max_age_ms": settings.consumer_metadata_max_age_ms,
        "session_timeout_ms": settings.session_timeout_ms,
        "heartbeat_interval_ms": settings.heartbeat_interval_ms,
        "enable_auto_commit": False,
        **settings.connection_kwargs(),
    }


def create_producer(settings: KafkaSettings, *, role: str) -> AIOKafkaProducer:
    """An unstarted producer for ``settings``."""
    return AIOKafkaProducer(**producer_kwargs(settings, role=role))


#: Broken producers being stopped in the background (a reference keeps each task alive).
_STOPPING: set[asyncio.Task[None]] = set()


async def _stop_quietly(producer: AIOKafkaProducer, timeout_s: float) -> None:
    with contextlib.suppress(KafkaError, OSError, TimeoutError):
        async with asyncio.timeout(timeout_s):
            await producer.stop()


async def replace_producer(
    broken: AIOKafkaProducer, settings: KafkaSettings, *, role: str, stop_timeout_s: float = 5.0
) -> AIOKafkaProducer:
    """A started new producer for ``broken`` (see :data:`PRODUCER_BROKEN`), which is stopped.

    If the new one cannot start (the broker is still away), ``broken`` is returned as it is:
    its next failure tries again. If the caller is cancelled while the new one starts (the
    gateway replaces it inside a request's deadline), the new one is stopped, never leaked,
    and the caller keeps ``broken``. Once the new one runs there is no await left: ``broken``
    is stopped in the background (bounded by ``stop_timeout_s``).
    """
    log.warning("the producer's sequence numbers no longer match the broker's: replacing it")
    producer = create_producer(settings, role=role)
    try:
        await producer.start()
    except (KafkaError, OSError) as exc:
        log.warning("cannot start a new producer yet (%s); keeping the old one", exc)
        await _stop_quietly(producer, stop_timeout_s)
        return broken
    except BaseException:
        # Cancelled (or worse) half-way: close what was opened before the error goes on.
        await asyncio.shield(_stop_quietly(producer, stop_timeout_s))
        raise
    task = asyncio.get_running_loop().create_task(_stop_quietly(broken, stop_timeout_s))
    _STOPPING.add(task)
    task.add_done_callback(_STOPPING.discard)
    return producer


def create_consumer(
    settings: KafkaSettings,
    *topics: str,
    role: str,
    group_id: str | None = None,
    auto_offset_reset: str = "earliest",
    max_poll_records: int | None = None,
    group_instance_id: str | None = None,
) -> AIOKafkaConsumer:
    """An unstarted consumer: group-managed on ``topics`` when ``group_id`` is given,
    otherwise for manual ``assign()``. Offsets are committed explicitly by the caller."""
    return AIOKafkaConsumer(
        *topics,
        group_id=group_id,
        group_instance_id=group_instance_id,
        auto_offset_reset=auto_offset_reset,
        max_poll_records=max_poll_records,
        **consumer_kwargs(settings, role=role),
    )
