"""The HTTP gateway: FastAPI in the DMZ, talking to the responder over Kafka only.

It never imports :mod:`journeys.store` and its settings hold no store address or token.
"""

from journeys.api.errors import GatewayError
from journeys.api.main import create_app
from journeys.api.settings import GatewaySettings

__all__ = ["GatewayError", "GatewaySettings", "create_app"]
