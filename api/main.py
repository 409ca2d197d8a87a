"""Builds the gateway's FastAPI app (and nothing else)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.demo import ops_routes, pages
from api.errors import GatewayError
from api.kafka_link import KafkaLink
from api.lifespan import LinkFactory, gateway_lifespan
from api.metrics import GatewayMetrics
from api.middleware import MetricsMiddleware
from api.routes import health, journeys, metrics
from api.settings import GatewaySettings
from api.tracing import TracingMiddleware
from journeys import __version__

DESCRIPTION = """
Which journeys should a customer see right now?

The gateway authenticates each call (`X-API-Key`), turns it into a request on Kafka, and
answers with the correlated reply. Every error is JSON with a `detail`: a sentence, or for a
**422** from the gateway's own checks the list of problems; **429** and **503** carry
`Retry-After` (seconds). The Kafka side is described in `docs/wire-contract.md`.
"""


def create_app(settings: GatewaySettings, link_factory: LinkFactory = KafkaLink) -> FastAPI:
    """The gateway app for ``settings``; ``link_factory`` builds its Kafka boundary."""
    gateway_metrics = GatewayMetrics()
    app = FastAPI(
        title="Journeys gateway",
        version=__version__,
        description=DESCRIPTION,
        lifespan=gateway_lifespan(settings, gateway_metrics, link_factory),
    )
    app.include_router(journeys.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    if settings.demo_pages:  # off in production: / and /ops are then 404
        app.include_router(pages.build_router(settings))
        app.include_router(ops_routes.build_router(settings))
    app.add_middleware(MetricsMiddleware, metrics=gateway_metrics)
    app.add_middleware(TracingMiddleware)  # added last = outermost: spans and logs all

    retry_after = str(settings.retry_after_s)

    @app.exception_handler(GatewayError)
    async def gateway_error(request: Request, exc: GatewayError) -> JSONResponse:
        gateway_metrics.count_shed(exc.status_code)
        headers = {"Retry-After": retry_after} if exc.retry_after else None
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)

    return app
