"""``/metrics``: Prometheus text exposition of this gateway's metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import MetricsDep
from api.metrics import CONTENT_TYPE_LATEST

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Text format."}},
)
async def metrics(gateway_metrics: MetricsDep) -> Response:
    """Requests by route and status, latency, in-flight, shed requests, dropped replies."""
    return Response(gateway_metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
