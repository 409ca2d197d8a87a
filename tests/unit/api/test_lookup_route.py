"""The lookup route against a fake Kafka boundary: request produced, reply mapped to HTTP."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from api import create_app
from journeys.contract import CONTRACT_VERSION, Header, decode_request
from tests.support.fake_kafka import FakeKafka, SentRequest, reply_value
from tests.support.gateway_app import Gateway, answer_with_journeys, gateway_settings
from tests.support.journey_rows import reply_journey

TRACEPARENT_RE = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


async def test_lookup_returns_the_journeys_sorted_by_priority(gateway: Gateway) -> None:
    response = await gateway.lookup("cust-1")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["customer_id"] == "cust-1"
    assert body["status"] == "open"
    assert [j["journey_id"] for j in body["journeys"]] == ["j-c", "j-a", "j-b"]
    assert body["journeys"][0] == reply_journey("cust-1", "j-c", priority=1)


async def test_request_is_produced_with_customer_key_contract_value_and_headers(
    gateway: Gateway,
) -> None:
    before_ms = int(time.time() * 1000)
    await gateway.lookup("cust-7", params={"status": "closed"})
    after_ms = int(time.time() * 1000)

    [sent] = gateway.kafka.sent
    assert sent.key == b"cust-7"
    request = decode_request(sent.value)
    assert (request.customer_id, request.status, request.v) == ("cust-7", "closed", 1)
    assert set(sent.headers) == {
        Header.CORRELATION_ID,
        Header.REPLY_PARTITION,
        Header.DEADLINE,
        Header.TRACEPARENT,
        Header.CONTRACT_VERSION,
        Header.REQUESTER_ID,
    }
    assert sent.headers[Header.REQUESTER_ID] == gateway.state.router.instance_id
    assert uuid.UUID(hex=sent.correlation_id).version == 4
    assert len(sent.correlation_id) == 32
    assert sent.headers[Header.REPLY_PARTITION] == "3"
    deadline = int(sent.headers[Header.DEADLINE])
    assert before_ms + 300 <= deadline <= after_ms + 300
    assert TRACEPARENT_RE.match(sent.headers[Header.TRACEPARENT])
    assert sent.headers[Header.CONTRACT_VERSION] == str(CONTRACT_VERSION)


async def test_response_names_the_correlation_id_and_traceparent(gateway: Gateway) -> None:
    response = await gateway.lookup("cust-1")

    [sent] = gateway.kafka.sent
    assert response.headers["x-correlation-id"] == sent.correlation_id
    assert response.headers["traceparent"] == sent.headers[Header.TRACEPARENT]


async def test_callers_traceparent_is_continued_with_a_new_span(gateway: Gateway) -> None:
    incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    await gateway.lookup("cust-1", headers={"traceparent": incoming})

    outgoing = gateway.kafka.sent[0].headers[Header.TRACEPARENT]
    assert outgoing.startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")
    assert outgoing.endswith("-01")
    assert "00f067aa0ba902b7" not in outgoing


@pytest.mark.parametrize(
    "customer_id",
    ["-starts-with-dash", "has space", "a" * 65, "semi;colon", "ünïcode"],
)
async def test_malformed_customer_id_is_422_and_nothing_is_produced(
    gateway: Gateway, customer_id: str
) -> None:
    response = await gateway.lookup(customer_id)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "customer_id"]
    assert gateway.kafka.sent == []


async def test_longest_valid_customer_id_is_accepted(gateway: Gateway) -> None:
    response = await gateway.lookup("a" * 64)

    assert response.status_code == 200


async def test_unknown_status_filter_is_422(gateway: Gateway) -> None:
    response = await gateway.lookup("cust-1", params={"status": "pending"})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "status"]


def _answering(value: bytes) -> Callable[[SentRequest], bytes]:
    return lambda _request: value


@pytest.mark.parametrize(
    ("reply", "status_code", "detail"),
    [
        (reply_value("not_found", error="none"), 404, "customer cust-1 has no open journeys"),
        (
            reply_value("ok", customer_id="cust-1", journeys=[]),
            404,
            "customer cust-1 has no open journeys",
        ),
        (reply_value("invalid", error="bad id"), 422, "bad id"),
        (
            reply_value("unavailable", error="flight://10.0.0.5:8815 refused"),
            503,
            "the journey store is unavailable; retry later",
        ),
        (reply_value("expired"), 504, "the request expired before it was looked up"),
        (
            reply_value("too_large", error="the reply would be 2000000 bytes, over 1000000"),
            500,
            "the journeys of customer cust-1 exceed this service's reply size limit; "
            "a narrower status filter may fit (retrying the same request does not help)",
        ),
        (b"{not json", 502, "the responder sent a reply this gateway cannot read"),
        (reply_value("weird"), 502, "the responder sent a reply this gateway cannot read"),
        (reply_value("ok", customer_id="cust-1", journeys=[{"journey_id": "x"}]), 502, None),
        # Defence in depth: never another customer's journeys, whatever the correlation id.
        (
            reply_value("ok", customer_id="cust-2", journeys=[reply_journey("cust-2", "j-1")]),
            502,
            "the responder's reply names another customer",
        ),
        (
            reply_value("ok", customer_id="cust-1", journeys=[reply_journey("cust-2", "j-1")]),
            502,
            "the responder's reply names another customer",
        ),
        (
            reply_value("ok", journeys=[reply_journey("cust-1", "j-1")]),
            502,
            "the responder's reply names another customer",
        ),
    ],
)
async def test_reply_status_maps_to_http(
    start_gateway: Callable[..., Any],
    reply: bytes,
    status_code: int,
    detail: str | None,
) -> None:
    gateway: Gateway = await start_gateway(kafka=FakeKafka(respond=_answering(reply)))

    response = await gateway.lookup("cust-1")

    assert response.status_code == status_code
    if detail is not None:
        assert response.json() == {"detail": detail}
    assert ("retry-after" in response.headers) == (status_code == 503)


async def test_not_found_detail_names_the_filter(start_gateway: Callable[..., Any]) -> None:
    gateway: Gateway = await start_gateway(
        kafka=FakeKafka(respond=_answering(reply_value("not_found")))
    )

    closed = await gateway.lookup("cust-1", params={"status": "closed"})
    every = await gateway.lookup("cust-1", params={"status": "all"})

    assert closed.json()["detail"] == "customer cust-1 has no closed journeys"
    assert every.json()["detail"] == "customer cust-1 has no journeys"


async def test_healthz_answers_without_an_api_key(gateway: Gateway) -> None:
    response = await gateway.http.get("/healthz")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_readyz_is_200_when_connected_and_503_when_not(gateway: Gateway) -> None:
    ready = await gateway.http.get("/readyz")
    gateway.kafka.is_connected = False
    not_ready = await gateway.http.get("/readyz")

    assert ready.status_code == 200
    assert not_ready.status_code == 503
    assert not_ready.json()["checks"]["kafka_connected"] is False


async def test_lifespan_starts_and_stops_the_kafka_link() -> None:
    kafka = FakeKafka(respond=answer_with_journeys)
    app = create_app(gateway_settings(), link_factory=kafka.bind)

    async with app.router.lifespan_context(app):
        running = (kafka.started, kafka.stopped)

    assert running == (True, False)
    assert kafka.stopped


async def test_lifespan_stops_the_kafka_link_when_the_app_fails() -> None:
    kafka = FakeKafka(respond=answer_with_journeys)
    app = create_app(gateway_settings(), link_factory=kafka.bind)

    with pytest.raises(RuntimeError, match="serving failed"):
        async with app.router.lifespan_context(app):
            raise RuntimeError("serving failed")

    assert kafka.stopped


async def test_every_answer_has_a_strong_etag_of_its_bytes_and_is_private(gateway: Gateway) -> None:
    first = await gateway.lookup("cust-1")
    again = await gateway.lookup("cust-1")
    other = await gateway.lookup("cust-2")

    etag = first.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    assert again.headers["etag"] == etag  # same journeys, same tag: another correlation id
    assert again.headers["x-correlation-id"] != first.headers["x-correlation-id"]
    assert other.headers["etag"] != etag
    assert first.headers["cache-control"] == "private, no-cache"


@pytest.mark.parametrize(
    "if_none_match",
    ["{etag}", "W/{etag}", '"other", {etag}', "*"],
    ids=["same", "weak", "in-a-list", "any"],
)
async def test_if_none_match_naming_the_answers_etag_gets_304_without_a_body(
    gateway: Gateway, if_none_match: str
) -> None:
    etag = (await gateway.lookup("cust-1")).headers["etag"]

    response = await gateway.lookup(
        "cust-1", headers={"If-None-Match": if_none_match.format(etag=etag)}
    )

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag
    assert response.headers["cache-control"] == "private, no-cache"
    assert response.headers["x-correlation-id"]


async def test_a_changed_answer_is_sent_whole_to_a_client_holding_the_old_etag(
    start_gateway: Callable[..., Any],
) -> None:
    priority = {"value": 1}

    def answer(request: SentRequest) -> bytes:
        customer = request.body["customer_id"]
        journeys = [reply_journey(customer, "j-a", priority=priority["value"])]
        return reply_value("ok", customer_id=customer, journeys=journeys)

    gateway: Gateway = await start_gateway(kafka=FakeKafka(respond=answer))
    held = (await gateway.lookup("cust-1")).headers["etag"]
    priority["value"] = 2

    response = await gateway.lookup("cust-1", headers={"If-None-Match": held})

    assert response.status_code == 200
    assert response.json()["journeys"][0]["priority"] == 2
    assert response.headers["etag"] != held
