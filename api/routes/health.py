"""``/healthz`` (the process is alive) and ``/readyz`` (it can answer lookups)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import StateDep
from api.models import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
async def healthz() -> Health:
    """Always 200 while the event loop runs."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    summary="Readiness: Kafka connected, reply partition read without errors, broker answers",
    responses={503: {"model": Health, "description": "Not ready; see `checks`."}},
)
async def readyz(state: StateDep) -> JSONResponse:
    """200 when lookups can be served, else 503 with the failing checks.

    ``warnings`` lists other gateways seen on this one's reply partition (a misconfiguration
    that does not stop lookups, so it does not fail readiness).
    """
    readable = state.link.replies_readable()
    connected = state.link.connected()
    reachable = connected and await state.link.ready()
    # connected: producer started and replies read; reachable: the broker answers now.
    checks = {"kafka_connected": connected, "replies_readable": readable,
              "kafka_reachable": reachable}  # fmt: skip
    warnings = [
        f"replies of another gateway (requester-id {other}) arrive on reply partition "
        f"{state.settings.reply_partition}: two instances share it"
        for other in state.router.foreign_requesters
    ]
    ready = all(checks.values())
    body = Health(status="ok" if ready else "not ready", checks=checks, warnings=warnings)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
