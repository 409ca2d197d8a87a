"""The lookup route: well-formed lookups skip FastAPI's per-request machinery.

For every request FastAPI walks the route's dependency tree (API key scheme, API key check,
state, requester) and validates every path, query and header parameter through pydantic, inside
two exit stacks and an exception wrapper of its own: together about half of the gateway's CPU
per lookup (cProfile and py-spy under load, docs/performance.md). Nearly every request is well
formed, so :class:`LookupRoute` first checks the few things the route declares: a GET with a
valid ``X-API-Key``, a customer id matching the id pattern, a ``status`` that is one of the
filter values. When all hold it calls the endpoint's code directly. Anything else (no or a wrong
key, a bad id or filter, another method) goes through FastAPI's handler unchanged, so error
answers and the OpenAPI document stay exactly FastAPI's. A :class:`GatewayError` raised by the
lookup reaches the app's exception handler as before (Starlette's ``ExceptionMiddleware``).
"""

from __future__ import annotations

from typing import Final

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.types import Receive, Scope, Send

from api.deps import API_KEY_HEADER, api_key_matches
from api.http_caching import CACHE_CONTROL, entity_tag, not_modified
from api.requester import Requester
from api.state import GatewayState
from journeys.contract import StatusFilter
from journeys.schema import ID_MAX_LENGTH, ID_RE

CORRELATION_HEADER: Final = "X-Correlation-Id"
_STATUS_FILTERS: Final = {member.value: member for member in StatusFilter}
_DEFAULT_STATUS: Final = StatusFilter.OPEN.value


async def lookup_response(
    requester: Requester,
    customer_id: str,
    status: StatusFilter,
    traceparent: str | None,
    if_none_match: str | None = None,
) -> Response:
    """Look the customer's journeys up over Kafka; the JSON answer with its headers, or 304
    when ``if_none_match`` names its tag (:mod:`api.http_caching`)."""
    result = await requester.lookup(customer_id, status, traceparent)
    body = result.body()
    etag = entity_tag(body)
    headers = {
        CORRELATION_HEADER: result.correlation_id,
        "ETag": etag,
        "Cache-Control": CACHE_CONTROL,
    }
    if result.traceparent is not None:
        headers["traceparent"] = result.traceparent
    if not_modified(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(content=body, media_type="application/json", headers=headers)


class LookupRoute(APIRoute):
    """An APIRoute that answers well-formed lookups itself (see the module docstring)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Well-formed lookups directly; everything else through FastAPI."""
        request = Request(scope, receive, send)
        state: GatewayState = request.app.state.gateway
        supplied = request.headers.get(API_KEY_HEADER)
        customer_id = request.path_params.get("customer_id")
        status = _STATUS_FILTERS.get(request.query_params.get("status", _DEFAULT_STATUS))
        if (
            scope["method"] != "GET"
            or status is None
            or not supplied
            or not isinstance(customer_id, str)
            or len(customer_id) > ID_MAX_LENGTH
            or ID_RE.fullmatch(customer_id) is None  # fullmatch: "$" would accept "id\n"
            or not api_key_matches(state, supplied)
        ):
            await super().handle(scope, receive, send)  # FastAPI's checks and error answers
            return
        traceparent = request.headers.get("traceparent")
        response = await lookup_response(
            state.requester,
            customer_id,
            status,
            traceparent,
            request.headers.get("if-none-match"),
        )
        await response(scope, receive, send)
