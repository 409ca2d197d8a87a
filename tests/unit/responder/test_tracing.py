"""The responder's batch span links its requests' spans; each reply gets one log line carrying
the request's correlation id and trace id."""

from __future__ import annotations

from journeys.contract import ReplyStatus
from responder.dead_letters import dead_letter
from responder.inbound import Routing
from responder.replies import reply
from responder.tracing import MAX_LINKS, batch_span, log_answers
from tests.support.log_fixtures import JsonLogs
from tests.support.responder_builders import record, request_headers, request_value

TRACE = "0af7651916cd43dd8448eb211c80319c"
SPAN = "b7ad6b7169203331"


def test_the_batch_span_links_every_request_span_up_to_the_limit() -> None:
    traced = [
        record(request_value("c1"), request_headers(traceparent=f"00-{i:032x}-{SPAN}-01"))
        for i in range(1, MAX_LINKS + 6)
    ]
    untraced = record(request_value("c2"), request_headers(traceparent=None))

    with batch_span([untraced, *traced], "journey.requests") as span:
        links = span.links  # type: ignore[attr-defined]

    assert len(links) == MAX_LINKS
    assert [link.context.trace_id for link in links] == list(range(1, MAX_LINKS + 1))
    assert span.name == "process journey.requests"  # type: ignore[attr-defined]


def test_each_reply_is_logged_with_the_requests_ids_and_the_batch_ids(
    json_logs: JsonLogs,
) -> None:
    traced = Routing("corr-1", 2, f"00-{TRACE}-{SPAN}-01")
    untraced = Routing("corr-2", 0, None)
    bad = record(b"junk", request_headers())
    replies = [
        reply("replies", traced, ReplyStatus.OK, "c1"),
        reply("replies", untraced, ReplyStatus.NOT_FOUND, "c2"),
        dead_letter("dlq", bad, "not JSON", max_bytes=65_536),  # not a reply: no line
    ]

    with batch_span([], "journey.requests") as span:
        log_answers(replies, span.get_span_context())

    first, second = json_logs.find(logger="journeys.responder.requests")
    batch = span.get_span_context()
    assert first["correlation_id"] == "corr-1"
    assert (first["trace_id"], first["span_id"]) == (TRACE, SPAN)
    assert first["status"] == "ok"
    assert first["reply_partition"] == 2
    assert first["batch_trace_id"] == f"{batch.trace_id:032x}"
    assert first["batch_span_id"] == f"{batch.span_id:016x}"
    assert second["correlation_id"] == "corr-2"
    assert second["status"] == "not_found"
    assert "trace_id" not in second
