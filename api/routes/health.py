"""``/healthz`` (the process is alive) and ``/readyz`` (it can answer lookups)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import StateDep
from api.models import NOT_READY_EXAMPLE, Health, Readiness, ReadinessChecks

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
async def healthz() -> Health:
    """Always 200 while the event loop runs."""
    return Health()


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Readiness: Kafka producer connected, reply partition assigned, broker reachable",
    responses={
        503: {
            "model": Readiness,
            "description": "Not ready; `checks` says which check failed.",
            "content": {"application/json": {"example": NOT_READY_EXAMPLE}},
        }
    },
)
async def readyz(state: StateDep) -> JSONResponse:
    """200 when lookups can be served, else 503 with the failing checks."""
    connected = state.link.connected()
    reachable = connected and await state.link.ready()
    readiness = Readiness.of(ReadinessChecks(kafka_connected=connected, kafka_reachable=reachable))
    return JSONResponse(readiness.model_dump(), status_code=200 if readiness.ready else 503)
