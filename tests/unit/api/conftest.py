"""Gateway apps wired to a fake Kafka boundary, with an HTTP client that runs the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from api import create_app
from tests.support.fake_kafka import FakeKafka
from tests.support.gateway_app import Gateway, answer_with_journeys, gateway_settings


@pytest.fixture
async def start_gateway() -> AsyncIterator[Callable[..., Any]]:
    """Start gateways: ``await start_gateway(kafka=FakeKafka(...), **settings_overrides)``."""
    async with AsyncExitStack() as stack:

        async def start(kafka: FakeKafka | None = None, **overrides: Any) -> Gateway:
            kafka = kafka if kafka is not None else FakeKafka(respond=answer_with_journeys)
            app = create_app(gateway_settings(**overrides), link_factory=kafka.bind)
            await stack.enter_async_context(app.router.lifespan_context(app))
            http = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000"
            )
            await stack.enter_async_context(http)
            return Gateway(app, kafka, http)

        yield start


@pytest.fixture
async def gateway(start_gateway: Callable[..., Any]) -> Gateway:
    """A gateway whose fake responder answers every customer with three journeys."""
    started: Gateway = await start_gateway()
    return started
