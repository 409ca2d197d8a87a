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
    summary="Readiness: Kafka producer connected and reply partition assigned",
    responses={503: {"model": Health, "description": "Not ready; see `checks`."}},
)
async def readyz(state: StateDep) -> JSONResponse:
    """200 when lookups can be served, else 503 with the failing checks."""
    connected = state.link.connected()
    reachable = connected and await state.link.ready()
    # connected: producer started and reply partition assigned; reachable: broker answers now.
    checks = {"kafka_connected": connected, "kafka_reachable": reachable}
    ready = all(checks.values())
    return JSONResponse(
        Health(status="ok" if ready else "not ready", checks=checks).model_dump(),
        status_code=200 if ready else 503,
    )
