"""``journeys responder run`` as real processes: sharing partitions, and a clean SIGTERM."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import TopicPartition

from journeys.contract import ReplyStatus, decode_reply
from journeys.kafka import KafkaSettings, create_consumer, create_producer, ensure_topics
from tests.support.child_env import http_ok, kafka_env
from tests.support.journey_rows import journey_row, journeys_table
from tests.support.kafka_fixtures import KafkaSettingsFactory, group_members
from tests.support.metrics_scrape import scrape
from tests.support.processes import ChildProcess, free_port, journeys_command, wait_until
from tests.support.responder_builders import (
    ReplyReader,
    request_headers,
    request_value,
    unique_customer,
)
from tests.support.store_fixtures import StoreServer

pytestmark = pytest.mark.integration

PARTITIONS = 4


class ResponderProcesses:
    """Starts ``journeys responder run`` processes of one group; stops them all at the end."""

    def __init__(self, kafka: KafkaSettings, store_server: StoreServer, log_dir: Path) -> None:
        self.kafka = kafka
        self.group_id = f"test-group-{uuid.uuid4().hex[:8]}"
        self.store_server = store_server
        self.log_dir = log_dir
        self.started: list[tuple[ChildProcess, str]] = []

    def start(self, name: str) -> tuple[ChildProcess, str]:
        port = free_port()
        metrics_url = f"http://127.0.0.1:{port}/metrics"
        env = {
            **kafka_env(self.kafka),
            "JOURNEYS_RESPONDER_STORE__URL": self.store_server.url,
            "JOURNEYS_RESPONDER_STORE__TOKEN": self.store_server.tokens["reader"],
            "JOURNEYS_RESPONDER_GROUP_ID": self.group_id,
            "JOURNEYS_RESPONDER_METRICS_PORT": str(port),
        }
        process = ChildProcess(
            name,
            journeys_command("responder", "run"),
            self.log_dir / f"{name}.log",
            env=env,
            ready=lambda: http_ok(metrics_url),
            ready_timeout_s=180,
        )
        self.started.append((process, metrics_url))
        process.start()
        return process, metrics_url

    def stop_all(self) -> None:
        for process, _ in self.started:
            process.stop()


@pytest.fixture
def responders(
    kafka_settings: KafkaSettingsFactory, store_server: StoreServer, tmp_path: Path
) -> Iterator[ResponderProcesses]:
    group = ResponderProcesses(kafka_settings(partitions=PARTITIONS), store_server, tmp_path)
    try:
        yield group
    finally:
        group.stop_all()


def assigned_partitions(metrics_url: str) -> set[int]:
    """The request partitions a responder reports lag for, i.e. the ones it owns."""
    lags = scrape(metrics_url).labels("journeys_responder_consumer_lag")
    return {int(labels["partition"]) for labels in lags}


async def send_requests(kafka: KafkaSettings, customers: list[str]) -> list[str]:
    """One request per customer, spread over every request and reply partition."""
    ids = []
    async with create_producer(kafka, role="test-gateway") as producer:
        for i, customer in enumerate(customers):
            cid = f"req-{i}-{uuid.uuid4().hex[:6]}"
            ids.append(cid)
            await producer.send_and_wait(
                kafka.requests_topic,
                request_value(customer),
                key=customer.encode(),
                partition=i % PARTITIONS,
                headers=request_headers(cid, reply_partition=i % PARTITIONS),
            )
    return ids


def seed_customers(store_server: StoreServer, count: int) -> list[str]:
    customers = [unique_customer() for _ in range(count)]
    with store_server.client("writer") as client:
        client.upsert(journeys_table([journey_row(c, "j-1") for c in customers[::2]]))
    return customers


async def test_two_responder_processes_share_the_partitions_and_answer_every_request(
    responders: ResponderProcesses, store_server: StoreServer
) -> None:
    await ensure_topics(responders.kafka)
    _, first = responders.start("responder-1")
    _, second = responders.start("responder-2")

    def split_between_both() -> bool:
        a, b = assigned_partitions(first), assigned_partitions(second)
        return bool(a) and bool(b) and not (a & b) and (a | b) == set(range(PARTITIONS))

    wait_until(split_between_both, 90, "both responders owning partitions", interval=0.5)
    customers = seed_customers(store_server, 40)
    ids = await send_requests(responders.kafka, customers)
    kafka = responders.kafka
    async with ReplyReader(kafka, kafka.replies_topic, range(PARTITIONS)) as reader:
        replies = await reader.wait_for(ids, within_s=90)
    statuses = [decode_reply(m.value or b"").status for m in replies.values()]
    assert statuses.count(ReplyStatus.OK) == 20
    assert statuses.count(ReplyStatus.NOT_FOUND) == 20
    consumed = [scrape(url).total("journeys_responder_requests_total") for url in (first, second)]
    assert all(count > 0 for count in consumed), consumed
    assert sum(consumed) >= len(ids)


async def test_sigterm_stops_the_responder_cleanly_with_offsets_committed(
    responders: ResponderProcesses, store_server: StoreServer
) -> None:
    process, _ = responders.start("responder")
    kafka = responders.kafka
    ids = await send_requests(kafka, seed_customers(store_server, 12))
    async with ReplyReader(kafka, kafka.replies_topic, range(PARTITIONS)) as reader:
        await reader.wait_for(ids, within_s=90)

    assert process.stop(timeout=30) == 0
    assert "responder stopped" in process.log_tail(20)

    tps = [TopicPartition(kafka.requests_topic, p) for p in range(PARTITIONS)]
    async with create_consumer(kafka, role="test-offsets", group_id=responders.group_id) as check:
        committed = {tp.partition: await check.committed(tp) for tp in tps}
        ends = await check.end_offsets(tps)
    assert committed == {tp.partition: ends[tp] for tp in tps}
    assert sum(committed.values()) == len(ids)
    assert await group_members(kafka, responders.group_id) == []
