"""One router per resource."""

from journeys.api.routes import health, journeys, metrics

__all__ = ["health", "journeys", "metrics"]
