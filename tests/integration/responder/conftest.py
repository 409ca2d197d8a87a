"""Fixtures of the responder's integration tests: an in-process responder on the real broker
and the real store server process."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import SecretStr

from journeys.kafka import KafkaSettings
from responder import Responder, ResponderMetrics, ResponderSettings
from responder.runner import open_store
from store import StoreClientSettings
from tests.support.kafka_fixtures import KafkaSettingsFactory
from tests.support.store_fixtures import StoreServer


@dataclass
class RunningResponder:
    settings: ResponderSettings
    metrics: ResponderMetrics
    responder: Responder

    def sample(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


@pytest.fixture
def responder_settings(
    kafka_settings: KafkaSettingsFactory, store_server: StoreServer
) -> Callable[..., ResponderSettings]:
    """Build responder settings for this test's topics and the session store (reader token)."""

    def build(kafka: KafkaSettings | None = None, **overrides: Any) -> ResponderSettings:
        values: dict[str, Any] = {
            "group_id": f"test-responder-{uuid.uuid4().hex[:8]}",
            "kafka": kafka or kafka_settings(),
            "store": StoreClientSettings(
                url=store_server.url, token=SecretStr(store_server.tokens["reader"])
            ),
        }
        values.update(overrides)
        return ResponderSettings(**values)

    return build


@asynccontextmanager
async def running_responder(settings: ResponderSettings) -> AsyncIterator[RunningResponder]:
    """A :class:`Responder` answering in a task of this event loop until the block ends."""
    metrics = ResponderMetrics()
    stop = asyncio.Event()
    async with open_store(settings.store) as store, Responder(settings, store, metrics) as r:
        task = asyncio.create_task(r.run(stop))
        try:
            yield RunningResponder(settings, metrics, r)
        finally:
            stop.set()
            async with asyncio.timeout(30):
                await task
