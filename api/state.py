"""What one running gateway app holds: settings, metrics, router, Kafka link, requester."""

from __future__ import annotations

from dataclasses import dataclass

from api.kafka_link import Link
from api.metrics import GatewayMetrics
from api.reply_router import ReplyRouter
from api.requester import Requester
from api.settings import GatewaySettings


@dataclass(frozen=True, slots=True)
class GatewayState:
    """Set on ``app.state.gateway`` by the lifespan; read by :mod:`api.deps`."""

    settings: GatewaySettings
    api_keys: tuple[bytes, ...]
    metrics: GatewayMetrics
    router: ReplyRouter
    link: Link
    requester: Requester
