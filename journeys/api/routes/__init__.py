"""One router per resource."""

from journeys.api.routes import health, journeys, metrics, ops, pages

__all__ = ["health", "journeys", "metrics", "ops", "pages"]
