"""Gateway apps wired to a fake Kafka boundary, with an HTTP client that runs the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api import GatewaySettings, create_app
from api.state import GatewayState
from journeys.kafka import KafkaSettings
from tests.unit.api.fake_kafka import FakeKafka, SentRequest, reply_value

API_KEY = "k3y-0f-the-web-team-4f9a1c"
OLD_API_KEY = "older-key-being-rotated-out-77"


def journey(customer_id: str, journey_id: str, priority: int, **overrides: Any) -> dict[str, Any]:
    """One journey as it travels in a reply."""
    return {
        "customer_id": customer_id,
        "journey_id": journey_id,
        "campaign": "spring",
        "journey_name": f"Journey {journey_id}",
        "step": 0,
        "channel": "web",
        "content": {
            "title": f"Title {journey_id}",
            "body": None,
            "cta_url": None,
            "image_url": None,
        },
        "status": "open",
        "priority": priority,
        "valid_from": "2025-01-01T00:00:00Z",
        "valid_to": None,
        "created_at": "2025-01-01T00:00:00Z",
        "updated_at": "2025-01-01T00:00:00Z",
        "closed_at": None,
        "attributes": {},
        **overrides,
    }


def answer_with_journeys(request: SentRequest) -> bytes:
    """A responder that knows every customer and gives three journeys out of priority order."""
    customer = request.body["customer_id"]
    journeys = [
        journey(customer, "j-b", 5),
        journey(customer, "j-c", 1),
        journey(customer, "j-a", 5),
    ]
    return reply_value("ok", customer_id=customer, journeys=journeys)


def gateway_settings(**overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "api_keys": [API_KEY, OLD_API_KEY],
        "request_timeout_ms": 300,
        "max_in_flight": 4,
        "reply_partition": 3,
        "kafka": KafkaSettings(bootstrap_servers="127.0.0.1:1", create_topics=False),
    }
    values.update(overrides)
    return GatewaySettings(**values)


@dataclass
class Gateway:
    """A running app (lifespan entered), its fake Kafka and an HTTP client."""

    app: FastAPI
    kafka: FakeKafka
    http: httpx.AsyncClient

    @property
    def state(self) -> GatewayState:
        state: GatewayState = self.app.state.gateway
        return state

    async def lookup(self, customer_id: str, **kwargs: Any) -> httpx.Response:
        headers = {"X-API-Key": API_KEY, **kwargs.pop("headers", {})}
        return await self.http.get(
            f"/v1/customers/{customer_id}/journeys", headers=headers, **kwargs
        )

    async def metrics(self) -> str:
        return (await self.http.get("/metrics")).text


GatewayFactory = Callable[..., Any]


@pytest.fixture
async def start_gateway() -> AsyncIterator[Callable[..., Any]]:
    """Start gateways: ``await start_gateway(kafka=FakeKafka(...), **settings_overrides)``."""
    stack: list[tuple[FastAPI, Any, httpx.AsyncClient]] = []

    async def start(kafka: FakeKafka | None = None, **overrides: Any) -> Gateway:
        kafka = kafka if kafka is not None else FakeKafka(respond=answer_with_journeys)
        app = create_app(gateway_settings(**overrides), link_factory=kafka.bind)
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000"
        )
        stack.append((app, lifespan, http))
        return Gateway(app, kafka, http)

    yield start
    for _app, lifespan, http in reversed(stack):
        await http.aclose()
        await lifespan.__aexit__(None, None, None)


@pytest.fixture
async def gateway(start_gateway: Callable[..., Any]) -> Gateway:
    """A gateway whose fake responder answers every customer with three journeys."""
    started: Gateway = await start_gateway()
    return started
