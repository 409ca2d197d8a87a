"""traceparent helpers: header values, Flight headers, exporter choice from OTEL_* variables."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from journeys.observability import (
    current_traceparent,
    extract_traceparent,
    flight_trace_headers,
    get_tracer,
    remote_span_context,
    traceparent_of,
)
from journeys.observability.tracing import build_provider, exporter_names

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def test_a_traceparent_round_trips_through_a_header_value() -> None:
    with get_tracer("test").start_as_current_span("send") as span:
        value = current_traceparent()

    assert value is not None
    assert value == traceparent_of(span.get_span_context())
    received = remote_span_context(value.encode())
    assert received is not None
    assert received.is_remote
    assert (received.trace_id, received.span_id) == (
        span.get_span_context().trace_id,
        span.get_span_context().span_id,
    )


def test_a_span_started_from_a_traceparent_continues_the_trace() -> None:
    context = extract_traceparent(PARENT.encode())

    with get_tracer("test").start_as_current_span(
        "handle", context=context, kind=SpanKind.CONSUMER
    ):
        child = current_traceparent()

    assert child is not None
    assert child.startswith(f"00-{TRACE_ID}-")
    assert "00f067aa0ba902b7" not in child
    assert child.endswith("-01")


def test_nothing_is_injected_outside_a_span() -> None:
    assert flight_trace_headers() == []
    assert current_traceparent() is None


@pytest.mark.parametrize(
    "value",
    [
        None,
        b"",
        b"garbage",
        b"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        b"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        b"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        PARENT.encode() + b"-extra",
    ],
)
def test_an_absent_or_invalid_traceparent_gives_no_parent(value: bytes | None) -> None:
    assert remote_span_context(value) is None
    with get_tracer("test").start_as_current_span("root", context=extract_traceparent(value)):
        started = current_traceparent()
    assert started is not None
    assert TRACE_ID not in started


def test_upper_case_hex_is_accepted() -> None:
    remote = remote_span_context(PARENT.upper())

    assert remote is not None
    assert f"{remote.trace_id:032x}" == TRACE_ID


def test_flight_headers_carry_the_current_span() -> None:
    with get_tracer("test").start_as_current_span("call", context=extract_traceparent(PARENT)):
        [(name, value)] = flight_trace_headers()

    assert name == b"traceparent"
    assert value.decode().startswith(f"00-{TRACE_ID}-")


def test_spans_record_their_remote_parent() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    with provider.get_tracer("test").start_as_current_span(
        "s", context=extract_traceparent(PARENT)
    ):
        pass

    [span] = exporter.get_finished_spans()
    assert span.parent is not None
    assert f"{span.parent.span_id:016x}" == "00f067aa0ba902b7"
    assert f"{span.context.trace_id:032x}" == TRACE_ID


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, []),
        ({"OTEL_TRACES_EXPORTER": "none"}, []),
        ({"OTEL_TRACES_EXPORTER": "console"}, ["console"]),
        ({"OTEL_TRACES_EXPORTER": "otlp,console"}, ["otlp", "console"]),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ["otlp"]),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, ["otlp"]),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"},
            [],
        ),
    ],
)
def test_the_exporter_is_off_unless_otel_variables_ask(
    env: dict[str, str], expected: list[str]
) -> None:
    assert exporter_names(env) == expected


def test_a_provider_without_otel_variables_exports_nothing() -> None:
    provider = build_provider("test", {})

    processors = provider._active_span_processor._span_processors
    assert processors == ()
    assert provider.resource.attributes["service.name"] == "journeys-test"


def test_the_console_exporter_is_installed_when_asked() -> None:
    provider = build_provider("test", {"OTEL_TRACES_EXPORTER": "console"})
    try:
        assert len(provider._active_span_processor._span_processors) == 1
    finally:
        provider.shutdown()
