"""What one running gateway app holds: settings, metrics, router, Kafka link, requester."""

from __future__ import annotations

from dataclasses import dataclass

from journeys.api.kafka_link import Link
from journeys.api.metrics import GatewayMetrics
from journeys.api.reply_router import ReplyRouter
from journeys.api.requester import Requester
from journeys.api.settings import GatewaySettings


@dataclass(frozen=True, slots=True)
class GatewayState:
    """Set on ``app.state.gateway`` by the lifespan; read by :mod:`journeys.api.deps`."""

    settings: GatewaySettings
    api_keys: tuple[bytes, ...]
    metrics: GatewayMetrics
    router: ReplyRouter
    link: Link
    requester: Requester
