"""The responder loop against the real Apache Kafka broker and the real store server process."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from pydantic import SecretStr

from journeys.contract import Header, ReplyStatus, decode_reply
from journeys.kafka import create_producer
from responder import ResponderSettings
from store import StoreClientSettings
from tests.support.journey_rows import journey_row, journeys_table
from tests.support.responder_builders import (
    ReplyReader,
    now_ms,
    request_headers,
    request_value,
    unique_customer,
)
from tests.support.running_responder import running_responder
from tests.support.store_fixtures import StoreServer

pytestmark = pytest.mark.integration

SettingsFactory = Callable[..., ResponderSettings]
Message = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]


def seed(store_server: StoreServer, rows: list[dict[str, Any]]) -> None:
    with store_server.client("writer") as client:
        client.upsert(journeys_table(rows))


async def produce(settings: ResponderSettings, *messages: Message) -> None:
    kafka = settings.kafka
    async with create_producer(kafka, role="test-gateway") as producer:
        for key, value, headers in messages:
            await producer.send_and_wait(kafka.requests_topic, value, key=key, headers=headers)


def request(customer: str, correlation_id: str, status: str = "open", **kw: Any) -> Message:
    return (
        customer.encode(),
        request_value(customer, status),
        request_headers(correlation_id, **kw),
    )


def status_of(message: ConsumerRecord[bytes, bytes]) -> ReplyStatus:
    return decode_reply(message.value or b"").status


async def test_request_gets_the_stores_journeys_on_the_named_reply_partition(
    responder_settings: SettingsFactory, store_server: StoreServer
) -> None:
    customer, other = unique_customer(), unique_customer()
    seed(
        store_server,
        [
            journey_row(customer, "j-b", priority=30),
            journey_row(customer, "j-a", priority=5),
            journey_row(customer, "j-closed", status="closed", priority=1),
            journey_row(other, "j-x"),
        ],
    )
    settings = responder_settings()
    async with running_responder(settings):
        await produce(
            settings,
            request(customer, "c-open", reply_partition=3),
            request(customer, "c-all", "all", reply_partition=1),
            request(unique_customer(), "c-none", reply_partition=3),
        )
        replies_topic = settings.kafka.replies_topic
        async with ReplyReader(settings.kafka, replies_topic, [0, 1, 2, 3]) as reader:
            replies = await reader.wait_for(["c-open", "c-all", "c-none"])
    assert {cid: m.partition for cid, m in replies.items()} == {
        "c-open": 3,
        "c-all": 1,
        "c-none": 3,
    }
    opened = decode_reply(replies["c-open"].value or b"")
    assert opened.status is ReplyStatus.OK
    assert opened.customer_id == customer
    assert [j.journey_id for j in opened.journeys] == ["j-a", "j-b"]
    assert [j.journey_id for j in decode_reply(replies["c-all"].value or b"").journeys] == [
        "j-closed",
        "j-a",
        "j-b",
    ]
    assert status_of(replies["c-none"]) is ReplyStatus.NOT_FOUND
    headers = dict(replies["c-open"].headers)
    assert headers[Header.TRACEPARENT] == dict(request_headers())[Header.TRACEPARENT]
    assert headers[Header.CONTRACT_VERSION] == b"1"
    assert replies["c-open"].key == customer.encode()


async def test_garbage_goes_to_the_dlq_with_a_reason_and_the_responder_keeps_answering(
    responder_settings: SettingsFactory, store_server: StoreServer
) -> None:
    customer = unique_customer()
    seed(store_server, [journey_row(customer, "j-1")])
    settings = responder_settings()
    kafka = settings.kafka
    async with running_responder(settings) as running:
        await produce(
            settings,
            (b"k", b"\x00\xffnot json at all", request_headers("c-garbage", reply_partition=2)),
            (None, b"no headers whatsoever", []),
            request(customer, "c-after", reply_partition=2),
        )
        async with ReplyReader(kafka, kafka.replies_topic, [2]) as replies:
            answered = await replies.wait_for(["c-garbage", "c-after"])
        async with ReplyReader(kafka, kafka.dlq_topic, range(kafka.partitions)) as dlq:
            dead = await dlq.wait_for(["c-garbage"])
            await dlq.wait_for_count(2)
        dead_letters = running.sample("journeys_responder_dead_letters_total")
    assert status_of(answered["c-garbage"]) is ReplyStatus.INVALID
    assert status_of(answered["c-after"]) is ReplyStatus.OK
    garbage = dead["c-garbage"]
    assert (garbage.key, garbage.value) == (b"k", b"\x00\xffnot json at all")
    assert b"not JSON" in dict(garbage.headers)[Header.REASON]
    headerless = next(r for r in dlq.records if r.value == b"no headers whatsoever")
    assert b"correlation-id" in dict(headerless.headers)[Header.REASON]
    assert dead_letters == 2


async def test_expired_request_is_answered_expired_counted_and_not_looked_up(
    responder_settings: SettingsFactory,
) -> None:
    settings = responder_settings()
    kafka = settings.kafka
    async with running_responder(settings) as running:
        await produce(
            settings,
            request(unique_customer(), "c-late", deadline_ms=now_ms() - 1, reply_partition=0),
        )
        async with ReplyReader(kafka, kafka.replies_topic, [0]) as reader:
            replies = await reader.wait_for(["c-late"])
        expired = running.sample("journeys_responder_expired_requests_total")
        store_calls = running.sample(
            "journeys_responder_store_call_seconds_count", operation="lookup", outcome="ok"
        )
    assert status_of(replies["c-late"]) is ReplyStatus.EXPIRED
    assert expired == 1
    assert store_calls == 0


async def test_store_going_down_gives_unavailable_replies(
    responder_settings: SettingsFactory,
    store_server_factory: Callable[..., AbstractContextManager[StoreServer]],
) -> None:
    customer = unique_customer()
    with store_server_factory(name="store-to-kill") as private_store:
        seed(private_store, [journey_row(customer, "j-1")])
        store = StoreClientSettings(
            url=private_store.url, token=SecretStr(private_store.tokens["reader"])
        )
        settings = responder_settings(store=store)
        kafka = settings.kafka
        async with (
            running_responder(settings) as running,
            ReplyReader(kafka, kafka.replies_topic, [1]) as reader,
        ):
            await produce(settings, request(customer, "c-up", reply_partition=1))
            before = await reader.wait_for(["c-up"])
            private_store.process.kill()
            await produce(settings, request(customer, "c-down", reply_partition=1))
            after = await reader.wait_for(["c-down"])
            failed_calls = running.sample(
                "journeys_responder_store_call_seconds_count", operation="lookup", outcome="error"
            ) + running.sample(
                "journeys_responder_store_call_seconds_count", operation="lookup", outcome="timeout"
            )
    assert status_of(before["c-up"]) is ReplyStatus.OK
    reply = decode_reply(after["c-down"].value or b"")
    assert reply.status is ReplyStatus.UNAVAILABLE
    assert reply.error is not None
    assert failed_calls >= 1
