"""Gateway apps for unit tests: settings, a fake responder's answer, the running app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from api import GatewaySettings
from api.state import GatewayState
from journeys.kafka import KafkaSettings
from tests.support.fake_kafka import FakeKafka, SentRequest, reply_value
from tests.support.journey_rows import reply_journey

API_KEY = "k3y-0f-the-web-team-4f9a1c"
OLD_API_KEY = "older-key-being-rotated-out-77"


def answer_with_journeys(request: SentRequest) -> bytes:
    """A responder that knows every customer and gives three journeys out of priority order."""
    customer = request.body["customer_id"]
    journeys = [
        reply_journey(customer, "j-b", priority=5),
        reply_journey(customer, "j-c", priority=1),
        reply_journey(customer, "j-a", priority=5),
    ]
    return reply_value("ok", customer_id=customer, journeys=journeys)


def gateway_settings(**overrides: Any) -> GatewaySettings:
    """Settings of a unit-test gateway (two API keys, short timeout); ``overrides`` win."""
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
        """GET the customer's journeys with the API key."""
        headers = {"X-API-Key": API_KEY, **kwargs.pop("headers", {})}
        return await self.http.get(
            f"/v1/customers/{customer_id}/journeys", headers=headers, **kwargs
        )

    async def metrics(self) -> str:
        """The text of /metrics."""
        return (await self.http.get("/metrics")).text
