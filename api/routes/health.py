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
    summary="Readiness: Kafka connected, reply partition read without errors, broker answers",
    responses={
        503: {
            "model": Readiness,
            "description": "Not ready; `checks` says which check failed.",
            "content": {"application/json": {"example": NOT_READY_EXAMPLE}},
        }
    },
)
async def readyz(state: StateDep) -> JSONResponse:
    """200 when lookups can be served, else 503 with the failing checks.

    ``warnings`` lists other gateways seen on this one's reply partition (a misconfiguration
    that does not stop lookups, so it does not fail readiness).
    """
    readable = state.link.replies_readable()
    connected = state.link.connected()
    reachable = connected and await state.link.ready()
    checks = ReadinessChecks(
        kafka_connected=connected, replies_readable=readable, kafka_reachable=reachable
    )
    warnings = [
        f"replies of another gateway (requester-id {other}) arrive on reply partition "
        f"{state.settings.reply_partition}: two instances share it"
        for other in state.router.foreign_requesters
    ]
    readiness = Readiness.of(checks, warnings)
    return JSONResponse(readiness.model_dump(), status_code=200 if readiness.ready else 503)
