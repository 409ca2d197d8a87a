"""The ops page at ``/ops`` and its data, ``/ops/summary`` (JSON).

Mounted with the demo page (``JOURNEYS_GATEWAY_DEMO_PAGES``). The summary is computed by the
gateway from its own registry and the Prometheus text of the peers in
``JOURNEYS_GATEWAY_OPS_PEERS``; the page polls it every second. The router's lifespan owns the
HTTP client used for the peers, so it is closed with the app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import FileResponse

from api.demo.ops_monitor import OpsMonitor, open_ops_monitor
from api.demo.ops_summary import OpsSummary
from api.demo.pages import static_response
from api.deps import MetricsDep
from api.settings import GatewaySettings


def build_router(settings: GatewaySettings) -> APIRouter:
    """Routes of the ops page, with a lifespan that opens and closes the peers' HTTP client."""
    peers = {name: str(url) for name, url in settings.ops_peers.items()}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_ops_monitor(peers, settings.ops_peer_timeout_ms / 1000) as monitor:
            app.state.ops_monitor = monitor
            yield

    router = APIRouter(tags=["operations"], lifespan=lifespan)

    @router.get("/ops", include_in_schema=False)
    async def ops_page() -> FileResponse:
        """The ops page."""
        return static_response("ops.html")

    @router.get(
        "/ops/summary",
        response_model=OpsSummary,
        summary="Live figures for the ops page (demo stacks only)",
    )
    async def ops_summary(
        request: Request, response: Response, gateway_metrics: MetricsDep
    ) -> OpsSummary:
        """Rates and latency percentiles over the last seconds, lag, DLQ and store rows."""
        monitor: OpsMonitor = request.app.state.ops_monitor
        response.headers["Cache-Control"] = "no-store"
        return await monitor.summary(gateway_metrics.registry)

    return router
