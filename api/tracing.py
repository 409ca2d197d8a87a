"""The gateway's trace and request log: one SERVER span and one JSON log line per HTTP request.

:class:`TracingMiddleware` (pure ASGI, outermost) continues the caller's W3C ``traceparent``
header, or starts a new trace, with OpenTelemetry (:mod:`journeys.observability.tracing`); the
span is current while the app runs, so :func:`outgoing_traceparent` puts *this span* in the
Kafka request headers, and every log line of the request carries its trace and span ids. When
the response has started it writes the request's line: method, route template (never the raw
path), status, duration and the correlation id the requester bound.
"""

from __future__ import annotations

import logging
import time
from typing import Final

from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.middleware import UNMATCHED_ROUTE
from journeys.observability import (
    current_traceparent,
    extract_traceparent,
    get_tracer,
    log_context,
    remote_span_context,
    traceparent_of,
)

log = logging.getLogger("journeys.gateway.requests")

_TRACEPARENT_HEADER: Final = b"traceparent"
#: Probes and scrapes: logged at DEBUG so they do not drown the request lines.
QUIET_ROUTES: Final = frozenset({"/healthz", "/readyz", "/metrics"})


def outgoing_traceparent(incoming: str | None = None) -> str | None:
    """The ``traceparent`` for the Kafka request: the gateway's current (server) span.

    Outside a request span (a caller that is not an HTTP request), ``incoming`` is passed on
    when valid. None when there is neither (e.g. tracing disabled with ``OTEL_SDK_DISABLED``).
    """
    current = current_traceparent()
    if current is not None or incoming is None:
        return current
    remote = remote_span_context(incoming)
    return traceparent_of(remote) if remote is not None else None


class TracingMiddleware:
    """Server span per HTTP request, then one log line for it (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._tracer = get_tracer("journeys.gateway")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next(
            (value for name, value in scope["headers"] if name == _TRACEPARENT_HEADER), None
        )
        method = scope["method"]
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with (
            log_context() as context,
            self._tracer.start_as_current_span(
                method,
                context=extract_traceparent(incoming),
                kind=SpanKind.SERVER,
                attributes={"http.request.method": method},
            ) as span,
        ):
            try:
                await self.app(scope, receive, send_and_record)
            finally:
                route = getattr(scope.get("route"), "path", UNMATCHED_ROUTE)
                span.update_name(f"{method} {route}")
                span.set_attributes({"http.route": route, "http.response.status_code": status})
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
                level = logging.DEBUG if route in QUIET_ROUTES else logging.INFO
                if log.isEnabledFor(level):
                    log.log(
                        level,
                        "%s %s %d",
                        method,
                        route,
                        status,
                        extra={
                            "method": method,
                            "route": route,
                            "status": status,
                            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                            "correlation_id": context.correlation_id,
                        },
                    )
