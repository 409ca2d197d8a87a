"""The HTTP gateway: FastAPI in the DMZ, talking to the responder over Kafka only.

It never imports :mod:`store` and its settings hold no store address or token.
"""

from api.errors import GatewayError
from api.main import create_app
from api.settings import GatewaySettings

__all__ = ["GatewayError", "GatewaySettings", "create_app"]
