"""OpenTelemetry tracing: one TracerProvider per process, W3C ``traceparent`` everywhere.

:func:`configure_tracing` installs the process's provider (sampler from ``OTEL_TRACES_SAMPLER``,
resource from ``OTEL_SERVICE_NAME``/``OTEL_RESOURCE_ATTRIBUTES``). Exporting is **off** unless
the standard variables ask for it:

- ``OTEL_TRACES_EXPORTER=otlp`` (or ``OTEL_EXPORTER_OTLP_ENDPOINT`` /
  ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` set): OTLP over ``http/protobuf`` (default) or ``grpc``
  (``OTEL_EXPORTER_OTLP[_TRACES]_PROTOCOL``), *if* the ``opentelemetry-exporter-otlp`` package
  is installed; it is not a dependency, so without it a warning is logged and nothing exported;
- ``OTEL_TRACES_EXPORTER=console``: one JSON line per span on stdout;
- ``OTEL_TRACES_EXPORTER=none`` or nothing set: spans are made (their ids are in the logs and in
  the Kafka headers) but go nowhere.

The trace context travels as a W3C ``traceparent`` only (the wire contract has no tracestate):
:func:`remote_span_context` / :func:`traceparent_of` for the Kafka ``traceparent`` header,
:func:`flight_trace_headers` for Arrow Flight call headers.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Mapping
from typing import Any, Final

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import SpanContext
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

log = logging.getLogger(__name__)

TRACEPARENT: Final = "traceparent"
_TRACEPARENT_BYTES: Final = TRACEPARENT.encode()
_PROPAGATOR: Final = TraceContextTextMapPropagator()
_OTLP_MODULES: Final = {
    "http/protobuf": "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "grpc": "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
}

_provider: TracerProvider | None = None
_fallback: TracerProvider | None = None


def exporter_names(env: Mapping[str, str]) -> list[str]:
    """The span exporters the OTEL_* variables in ``env`` ask for (empty: export nothing)."""
    raw = env.get("OTEL_TRACES_EXPORTER")
    if raw is None:
        endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get(
            "OTEL_EXPORTER_OTLP_ENDPOINT"
        )
        return ["otlp"] if endpoint else []
    names = [name.strip().lower() for name in raw.split(",") if name.strip()]
    return [] if "none" in names else names


def _exporter(name: str, env: Mapping[str, str]) -> SpanExporter | None:
    if name == "console":
        return ConsoleSpanExporter(
            out=sys.stdout, formatter=lambda span: span.to_json(indent=None) + "\n"
        )
    if name != "otlp":
        log.warning("unknown OTEL_TRACES_EXPORTER %r: ignored", name)
        return None
    protocol = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    )
    module_name = _OTLP_MODULES.get(protocol)
    if module_name is None:
        log.warning("unknown OTLP protocol %r: traces are not exported", protocol)
        return None
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        log.warning(
            "OTLP export asked for but %s is not installed (pip install "
            "opentelemetry-exporter-otlp): traces are not exported",
            module_name,
        )
        return None
    exporter: SpanExporter = module.OTLPSpanExporter()  # endpoint etc. from OTEL_* itself
    return exporter


def build_provider(process: str, env: Mapping[str, str] | None = None) -> TracerProvider:
    """A TracerProvider for ``process`` with the exporters ``env`` (os.environ) asks for."""
    env = os.environ if env is None else env
    attributes: dict[str, Any] = {}
    if not env.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = f"journeys-{process}"
    provider = TracerProvider(resource=Resource.create(attributes))
    for name in exporter_names(env):
        exporter = _exporter(name, env)
        if exporter is not None:
            provider.add_span_processor(BatchSpanProcessor(exporter))
            log.info("exporting traces with %s", name)
    return provider


def configure_tracing(process: str) -> TracerProvider:
    """Install this process's TracerProvider (once; later calls return the same one)."""
    global _provider
    if _provider is None:
        _provider = build_provider(process)
        trace.set_tracer_provider(_provider)
    return _provider


def get_tracer(name: str) -> trace.Tracer:
    """A tracer of the configured provider; before :func:`configure_tracing`, of a private
    provider that exports nothing (so spans and their ids exist in tests too)."""
    global _fallback
    if _provider is not None:
        return _provider.get_tracer(name)
    if _fallback is None:
        _fallback = TracerProvider()
    return _fallback.get_tracer(name)


# -- the traceparent ------------------------------------------------------------------------


def extract_traceparent(value: str | bytes | None) -> Context:
    """A context whose parent is ``value``'s remote span (empty when absent or invalid).

    Upper-case hex is accepted and lower-cased (W3C asks senders for lower case).
    """
    if not value:
        return Context()
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return _PROPAGATOR.extract({TRACEPARENT: text.strip().lower()})


def traceparent_of(span_context: SpanContext) -> str | None:
    """The W3C traceparent naming ``span_context`` (None when it is invalid)."""
    if not span_context.is_valid:
        return None
    return (
        f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}"
        f"-{int(span_context.trace_flags):02x}"
    )


def current_traceparent() -> str | None:
    """The traceparent of the current span, or None outside any (valid) span."""
    return traceparent_of(trace.get_current_span().get_span_context())


def remote_span_context(value: str | bytes | None) -> SpanContext | None:
    """The span a traceparent names, parsed without building a Context (for span links)."""
    span = trace.get_current_span(extract_traceparent(value)).get_span_context()
    return span if span.is_valid else None


def span_ids(span_context: SpanContext) -> tuple[str, str] | None:
    """``(trace_id, span_id)`` as lower-case hex, for log lines (None when invalid)."""
    if not span_context.is_valid:
        return None
    return f"{span_context.trace_id:032x}", f"{span_context.span_id:016x}"


def flight_trace_headers() -> list[tuple[bytes, bytes]]:
    """Arrow Flight call headers carrying the current span (empty outside a span)."""
    traceparent = current_traceparent()
    return [] if traceparent is None else [(_TRACEPARENT_BYTES, traceparent.encode())]
