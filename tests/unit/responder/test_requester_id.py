"""The responder copies a well-formed ``requester-id`` to the reply, and nothing else."""

from __future__ import annotations

import pytest

from journeys.contract import Header
from responder.inbound import InboundRequest, parse_record
from responder.replies import reply_headers
from tests.support.responder_builders import now_ms, record, request_headers, request_value


@pytest.mark.parametrize(
    ("sent", "copied"),
    [(b"gw-3f2a9c", b"gw-3f2a9c"), (b"x" * 65, None), (b"bad id\n", None), (None, None)],
)
def test_a_well_formed_requester_id_is_copied_to_the_reply(
    sent: bytes | None, copied: bytes | None
) -> None:
    headers = request_headers("c-1")
    if sent is not None:
        headers.append((Header.REQUESTER_ID, sent))
    parsed = parse_record(
        record(request_value("cust-1"), headers), reply_partitions=4, now_ms=now_ms()
    )
    assert isinstance(parsed, InboundRequest)
    assert dict(reply_headers(parsed.routing)).get(Header.REQUESTER_ID) == copied


def test_the_requests_deadline_is_echoed_on_the_reply() -> None:
    # A restarted gateway tells its previous process's replies from another instance's by it.
    headers = request_headers("c-1")
    parsed = parse_record(
        record(request_value("cust-1"), headers), reply_partitions=4, now_ms=now_ms()
    )
    assert isinstance(parsed, InboundRequest)
    assert dict(reply_headers(parsed.routing))[Header.DEADLINE] == str(parsed.deadline_ms).encode()
