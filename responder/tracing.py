"""The responder's trace and request log: one CONSUMER span per batch, one line per request.

Why a span per *batch* and not per request: a batch makes ONE store call, and one call can
only have one parent. So the batch span (``process <requests topic>``) is the store call's
parent (its ``traceparent`` goes in the Flight call headers) and it *links* to the span of
every request in the batch (the gateway span named by the request's ``traceparent`` header),
as OpenTelemetry's messaging conventions do for batch processing. Links are capped at
:data:`MAX_LINKS`; a span per request would also cost ~25 µs times the batch size.

After a batch's replies are acknowledged, each request gets one log line, ``answered``, with
its correlation id, reply status and partition, and the *request's* ``trace_id``/``span_id``
(the gateway span that sent it), so one request is followed from the gateway's log line to
this one by trace id; ``batch_trace_id``/``batch_span_id`` lead on to the batch span and the
store call.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Final

from opentelemetry.trace import Link, Span, SpanContext, SpanKind

from journeys.contract import Header
from journeys.observability import get_tracer, remote_span_context, span_ids
from responder.inbound import InboundRecord
from responder.replies import Outbound

log = logging.getLogger("journeys.responder.requests")

#: Requests linked from one batch span at most (the SDK's default link limit).
MAX_LINKS: Final = 128


def _links(records: Sequence[InboundRecord]) -> list[Link]:
    links: list[Link] = []
    for record in records:
        if len(links) >= MAX_LINKS:
            break
        for name, value in record.headers:
            if name == Header.TRACEPARENT and isinstance(value, bytes):
                remote = remote_span_context(value)
                if remote is not None:
                    links.append(Link(remote))
                break
    return links


@contextmanager
def batch_span(records: Sequence[InboundRecord], topic: str) -> Iterator[Span]:
    """The current span while one batch is answered, linked to its requests' spans."""
    tracer = get_tracer("journeys.responder")  # resolved per batch: set up after import
    with tracer.start_as_current_span(
        f"process {topic}",
        kind=SpanKind.CONSUMER,
        links=_links(records),
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": topic,
            "messaging.batch.message_count": len(records),
        },
    ) as span:
        yield span


def log_answers(replies: Sequence[Outbound], batch: SpanContext) -> None:
    """One ``answered`` line per reply (see the module docstring for the fields)."""
    if not log.isEnabledFor(logging.INFO):
        return
    ids = span_ids(batch)
    batch_trace_id, batch_span_id = ids if ids is not None else (None, None)
    for message in replies:
        routing = message.routing
        if routing is None or message.status is None:
            continue
        remote = remote_span_context(routing.traceparent)
        request_ids = None if remote is None else span_ids(remote)
        trace_id, span_id = request_ids if request_ids is not None else (None, None)
        log.info(
            "answered %s",
            message.status.value,
            extra={
                "correlation_id": routing.correlation_id,
                "trace_id": trace_id,
                "span_id": span_id,
                "status": message.status.value,
                "reply_partition": routing.reply_partition,
                "batch_trace_id": batch_trace_id,
                "batch_span_id": batch_span_id,
            },
        )
