"""Logs and traces shared by every process (gateway, responder, store, offload jobs).

- :func:`configure_logging`: one JSON line per event on stderr, correlation and trace ids
  attached, secrets redacted (:mod:`~journeys.observability.logging`,
  :mod:`~journeys.observability.redaction`);
- :func:`log_context` / :func:`bind_correlation_id`: the correlation id of the request at hand;
- :func:`configure_tracing` and the ``traceparent`` helpers for Kafka and Flight headers
  (:mod:`~journeys.observability.tracing`); the Flight server middleware lives in
  :mod:`journeys.observability.flight`, imported explicitly (it loads ``pyarrow.flight``).

This package imports neither :mod:`api` nor :mod:`store`.
"""

from journeys.observability.context import (
    LogContext,
    bind_correlation_id,
    current_correlation_id,
    log_context,
)
from journeys.observability.logging import LoggingSetup, configure_logging
from journeys.observability.redaction import REDACTED, RedactionFilter, Redactor
from journeys.observability.tracing import (
    TRACEPARENT,
    configure_tracing,
    current_traceparent,
    extract_traceparent,
    flight_trace_headers,
    get_tracer,
    remote_span_context,
    span_ids,
    traceparent_of,
)

__all__ = [
    "REDACTED",
    "TRACEPARENT",
    "LogContext",
    "LoggingSetup",
    "RedactionFilter",
    "Redactor",
    "bind_correlation_id",
    "configure_logging",
    "configure_tracing",
    "current_correlation_id",
    "current_traceparent",
    "extract_traceparent",
    "flight_trace_headers",
    "get_tracer",
    "log_context",
    "remote_span_context",
    "span_ids",
    "traceparent_of",
]
