"""Continue the caller's trace in an Arrow Flight server: one span per call.

:class:`TraceContextMiddlewareFactory` is Flight server middleware. For every call it starts a
SERVER span whose parent is the ``traceparent`` call header (a new trace without one) and ends
it when the call completes, marking it failed when the call raised. The span is not made
*current* in the handler's thread (Flight gives middleware no hook around the handler), so
handler log lines do not carry its ids; the call's DEBUG line does.

Import this module explicitly: it needs ``pyarrow.flight``, which the gateway never loads.
"""

from __future__ import annotations

import logging
from typing import Final

import pyarrow.flight as flight
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from journeys.observability.tracing import TRACEPARENT, extract_traceparent, get_tracer, span_ids

log = logging.getLogger(__name__)

#: Key of this middleware in ``FlightServerBase(middleware={...})``.
TRACING_MIDDLEWARE_KEY: Final = "tracing"


class CallSpan(flight.ServerMiddleware):  # type: ignore[misc]
    """Holds the span of one Flight call and ends it when the call completes."""

    def __init__(self, span: Span, method: str) -> None:
        super().__init__()
        self.span = span
        self.method = method

    def call_completed(self, exception: BaseException | None) -> None:
        if exception is not None:
            self.span.record_exception(exception)
            self.span.set_status(Status(StatusCode.ERROR, type(exception).__name__))
        self.span.end()
        if log.isEnabledFor(logging.DEBUG):
            ids = span_ids(self.span.get_span_context())
            log.debug(
                "flight call %s %s",
                self.method,
                "failed" if exception is not None else "done",
                extra={"trace_id": ids[0] if ids else None, "span_id": ids[1] if ids else None},
            )


class TraceContextMiddlewareFactory(flight.ServerMiddlewareFactory):  # type: ignore[misc]
    """Starts a span per call, continuing the ``traceparent`` header when there is one."""

    def __init__(self, tracer: trace.Tracer | None = None) -> None:
        super().__init__()
        self._tracer = tracer if tracer is not None else get_tracer(__name__)

    def start_call(self, info: flight.CallInfo, headers: dict[str, list[str | bytes]]) -> CallSpan:
        values = headers.get(TRACEPARENT) or []
        method = getattr(info.method, "name", str(info.method))
        span = self._tracer.start_span(
            f"flight {method}",
            context=extract_traceparent(values[0] if values else None),
            kind=SpanKind.SERVER,
            attributes={"rpc.system": "apache_arrow_flight", "rpc.method": method},
        )
        return CallSpan(span, method)
