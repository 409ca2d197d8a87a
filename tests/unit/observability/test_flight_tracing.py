"""The store call continues the caller's trace: StoreClient sends ``traceparent`` in the Flight
call headers (also from AsyncStoreClient's worker threads) and the server middleware makes one
span per call, child of the caller's span. A minimal in-process Flight server stands in for the
store (the real one is covered end to end)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.flight as flight
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from journeys.observability import get_tracer
from journeys.observability.flight import TRACING_MIDDLEWARE_KEY, TraceContextMiddlewareFactory
from store import AsyncStoreClient, StoreClient, StoreError


class _HealthServer(flight.FlightServerBase):  # type: ignore[misc]
    def __init__(self, factory: TraceContextMiddlewareFactory) -> None:
        super().__init__("grpc://127.0.0.1:0", middleware={TRACING_MIDDLEWARE_KEY: factory})

    def do_action(self, context: flight.ServerCallContext, action: flight.Action) -> Any:
        if action.type != "health":
            raise flight.FlightServerError("boom")
        return [flight.Result(pa.py_buffer(orjson.dumps({"status": "ok", "version": "t"})))]


@pytest.fixture
def server_spans() -> Iterator[tuple[str, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    server = _HealthServer(TraceContextMiddlewareFactory(provider.get_tracer("test")))
    try:
        yield f"grpc://127.0.0.1:{server.port}", exporter
    finally:
        server.shutdown()


def _only_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    [span] = exporter.get_finished_spans()
    return span


def test_a_store_call_inside_a_span_is_its_child_on_the_server(
    server_spans: tuple[str, InMemorySpanExporter],
) -> None:
    url, exporter = server_spans
    with (
        StoreClient(url, "t" * 20) as client,
        get_tracer("test").start_as_current_span("batch") as caller,
    ):
        client.health()

    span = _only_span(exporter)
    assert span.kind is SpanKind.SERVER
    assert span.parent is not None
    assert span.parent.span_id == caller.get_span_context().span_id
    assert span.context.trace_id == caller.get_span_context().trace_id
    assert span.attributes is not None
    assert span.attributes["rpc.method"] == "DO_ACTION"


async def test_the_async_client_carries_the_trace_into_its_worker_thread(
    server_spans: tuple[str, InMemorySpanExporter],
) -> None:
    url, exporter = server_spans
    async with AsyncStoreClient(StoreClient(url, "t" * 20)) as client:
        with get_tracer("test").start_as_current_span("batch") as caller:
            await client.health()

    span = _only_span(exporter)
    assert span.parent is not None
    assert span.parent.span_id == caller.get_span_context().span_id


def test_a_call_without_a_trace_starts_one_and_failures_are_marked(
    server_spans: tuple[str, InMemorySpanExporter],
) -> None:
    url, exporter = server_spans
    with StoreClient(url, "t" * 20) as client, pytest.raises(StoreError, match="boom"):
        client.stats()

    span = _only_span(exporter)
    assert span.parent is None
    assert not span.status.is_ok
