"""One router per resource."""

from api.routes import health, journeys, metrics

__all__ = ["health", "journeys", "metrics"]
