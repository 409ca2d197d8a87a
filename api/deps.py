"""Dependencies of the routes, as ``Annotated`` aliases used as parameter types.

They are ``async def`` although none awaits: FastAPI runs a plain ``def`` dependency in its
thread pool, and three thread hand-offs per lookup were the gateway's largest CPU cost under
load (py-spy, docs/performance.md).
"""

from __future__ import annotations

import hmac
from typing import Annotated, Final

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader

from api.metrics import GatewayMetrics
from api.requester import Requester
from api.state import GatewayState

API_KEY_HEADER: Final = "X-API-Key"

_api_key_scheme = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="One of the gateway's API keys (ask the platform team). Required on /v1/*.",
)


async def get_state(request: Request) -> GatewayState:
    """The running gateway's state."""
    state: GatewayState = request.app.state.gateway
    return state


StateDep = Annotated[GatewayState, Depends(get_state)]


async def get_requester(state: StateDep) -> Requester:
    """The requester that sends lookups over Kafka."""
    return state.requester


async def get_metrics(state: StateDep) -> GatewayMetrics:
    """This app's metrics."""
    return state.metrics


async def require_api_key(
    state: StateDep, supplied: Annotated[str | None, Security(_api_key_scheme)]
) -> None:
    """401 unless ``X-API-Key`` matches one of the configured keys (constant-time)."""
    if not supplied:
        raise HTTPException(
            status_code=401, detail=f"missing API key: send it in the {API_KEY_HEADER} header"
        )
    if not api_key_matches(state, supplied):
        raise HTTPException(status_code=401, detail="invalid API key")


def api_key_matches(state: GatewayState, supplied: str) -> bool:
    """True when ``supplied`` is one of the configured keys (constant-time)."""
    candidate = supplied.encode()
    matched = False
    # Compare against every key, without stopping early, so timing says nothing about which.
    for key in state.api_keys:
        matched |= hmac.compare_digest(candidate, key)
    return matched


RequesterDep = Annotated[Requester, Depends(get_requester)]
MetricsDep = Annotated[GatewayMetrics, Depends(get_metrics)]
ApiKeyDep = Depends(require_api_key)
