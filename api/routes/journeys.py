"""``/v1/customers/{customer_id}/journeys``: which journeys should this customer see now?"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Header, Path, Query, Response

from api.deps import ApiKeyDep, RequesterDep
from api.models import CustomerJourneys, ErrorBody, ValidationErrorBody
from api.routes.lookup_route import CORRELATION_HEADER, LookupRoute, lookup_response
from journeys.contract import StatusFilter
from journeys.schema import ID_MAX_LENGTH, ID_PATTERN

# LookupRoute: well-formed lookups skip the dependency solver; the declarations below still
# validate every other request and document the route.
router = APIRouter(
    prefix="/v1", tags=["journeys"], dependencies=[ApiKeyDep], route_class=LookupRoute
)


def _error(description: str, example: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "model": ErrorBody,
        "description": description,
        "content": {"application/json": {"example": {"detail": example}}},
    }
    if headers:
        response["headers"] = headers
    return response


_RETRY_AFTER: Final = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
        "required": True,
    }
}

_CACHING_HEADERS: Final[dict[str, Any]] = {
    "ETag": {
        "description": "Strong entity tag of the answer (a hash of its bytes): send it back "
        "in `If-None-Match` to get 304 when the journeys are unchanged.",
        "schema": {"type": "string"},
        "required": True,
    },
    "Cache-Control": {
        "description": "`private, no-cache`: one customer's answer, to be revalidated at each "
        "use (journeys change at any time).",
        "schema": {"type": "string"},
        "required": True,
    },
}

_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    200: {
        "headers": {
            CORRELATION_HEADER: {
                "description": "The correlation id of the Kafka request that was answered.",
                "schema": {"type": "string"},
                "required": True,
            },
            "traceparent": {
                "description": "W3C trace context of this lookup.",
                "schema": {"type": "string"},
            },
            **_CACHING_HEADERS,
        }
    },
    304: {
        "description": "Not Modified: the answer's `ETag` is one the `If-None-Match` header "
        "named. No body.",
        "headers": {
            CORRELATION_HEADER: {
                "description": "The correlation id of the Kafka request that was answered.",
                "schema": {"type": "string"},
                "required": True,
            },
            **_CACHING_HEADERS,
        },
    },
    401: _error("No or a wrong `X-API-Key` header.", "invalid API key"),
    404: _error(
        "The customer has no journeys for this filter.", "customer c-1 has no open journeys"
    ),
    422: {
        # Two shapes: the gateway's own checks answer FastAPI's list of problems; a request
        # the responder rejects (``invalid`` reply, rare) answers a sentence.
        "model": ValidationErrorBody | ErrorBody,
        "description": (
            "Malformed customer id or status filter: `detail` lists each problem (FastAPI's "
            "format). If the responder rejects a request the gateway accepted, `detail` is a "
            "sentence instead."
        ),
    },
    429: _error(
        "Too many lookups in flight on this gateway. Retry after `Retry-After` seconds.",
        "more than 256 lookups in flight on this gateway; retry later",
        _RETRY_AFTER,
    ),
    500: _error(
        "The answer exceeds the service's reply size limit (too many or too large journeys "
        "for this customer): a data problem on the service side, not in the request. "
        "Retrying does not help; a narrower `status` filter may fit.",
        "the journeys of customer c-1 exceed this service's reply size limit; "
        "a narrower status filter may fit (retrying the same request does not help)",
    ),
    502: _error("The responder sent a reply the gateway cannot read.", "bad reply"),
    503: _error(
        "Kafka or the journey store is unavailable. Retry after `Retry-After` seconds.",
        "the gateway is not connected to Kafka; retry later",
        _RETRY_AFTER,
    ),
    504: _error("No answer before the request's deadline.", "no reply within 2000 ms"),
}


@router.get(
    "/customers/{customer_id}/journeys",
    response_model=CustomerJourneys,
    responses=_RESPONSES,
    summary="A customer's journeys, most important first",
    description=(
        "Returns the journeys a frontend should consider for this customer, sorted by "
        "`priority` (lower is more important), then `journey_id`. By default only **open** "
        "journeys (running now); `status=closed` or `status=all` for history.\n\n"
        "Every lookup has a deadline (2 s unless configured): the gateway answers **504** when "
        "it passes. **429** and **503** carry `Retry-After`. Send a W3C `traceparent` header to "
        "continue your trace; the `X-Correlation-Id` response header names the Kafka request. "
        "Every 200 has a strong `ETag`; send it in `If-None-Match` to get **304** (no body) "
        "while the journeys are unchanged."
    ),
)
async def get_customer_journeys(
    requester: RequesterDep,
    customer_id: Annotated[
        str,
        Path(
            pattern=ID_PATTERN,
            max_length=ID_MAX_LENGTH,
            description=(
                f"1-{ID_MAX_LENGTH} characters: letters, digits, `_`, `.`, `-`; "
                "starts with a letter or digit."
            ),
            examples=["cust-000042"],
        ),
    ],
    status: Annotated[
        StatusFilter,
        Query(description="`open` (default): running journeys; `closed`: ended; `all`: both."),
    ] = StatusFilter.OPEN,
    traceparent: Annotated[
        str | None,
        Header(description="Optional W3C trace context to continue; one is created if absent."),
    ] = None,
    if_none_match: Annotated[
        str | None,
        Header(
            description="ETags of answers you hold: **304** with no body when the answer's "
            "`ETag` is among them (or `*`)."
        ),
    ] = None,
) -> Response:
    """Look the customer's journeys up over Kafka."""
    return await lookup_response(requester, customer_id, status, traceparent, if_none_match)
