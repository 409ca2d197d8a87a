"""Fixtures of the responder's integration tests: an in-process responder on the real broker
and the real store server process."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import SecretStr

from journeys.kafka import KafkaSettings
from responder import ResponderSettings
from store import StoreClientSettings
from tests.support.kafka_fixtures import KafkaSettingsFactory
from tests.support.store_fixtures import StoreServer


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
