"""The production Kafka topology under the faults it is operated through, every answer checked.

Three Apache Kafka brokers (KRaft, RF 3, ``min.insync.replicas=2``, no unclean leader
election; the ``kafka_cluster`` fixture), a DuckDB store server, two responders and two gateways
as real processes (tests/cluster/kafka_topology.py), 100 lookups/s of open-loop load:

a. a rolling restart of the three brokers (SIGTERM: a controlled shutdown, restart on its log,
   wait until nothing is under-replicated, next): no failed lookup, no ``expired`` reply, no
   lost reply-log read, every gateway ready throughout;
b. preferred-leader elections and a partition reassignment (a gateway's reply partition moved
   off its leader's broker and back): no failed lookup, no lost reply-log read.

Never a wrong answer. Each scenario prints and writes its figures
(tests/artifacts/chaos/cluster-kafka-*.json). A broker killed with SIGKILL is in
test_kafka_broker_crash.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Final

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from devstack.kafka_cluster import KafkaCluster
from devstack.kafka_cluster_admin import (
    elect_preferred_leaders,
    partition_states,
    reassign_partition,
    wait_fully_replicated,
    wait_reassignments_done,
)
from tests.chaos.conftest import ChaosStack
from tests.cluster.kafka_topology import (
    IN_SYNC_TIMEOUT_S,
    MIN_INSYNC,
    REPLICAS,
    Marks,
    assert_always_ready,
    assert_healthy,
    assert_no_failed_lookup,
    cluster_of,
    replicated_chaos_stack,
    run_scenario,
)

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(400)]

#: Load between two steps of a fault, so each step's effect shows on its own.
SETTLE_S: Final = 2.0


@pytest.fixture(scope="module")
def cluster_stack(
    kafka_cluster: KafkaCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ChaosStack]:
    yield from replicated_chaos_stack(kafka_cluster, tmp_path_factory.mktemp("cluster-stack"))


async def _topic_configs(bootstrap_servers: str, names: list[str]) -> dict[str, dict[str, str]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
        )
    finally:
        await admin.close()
    return {
        name: {entry[0]: entry[1] for entry in entries}
        for response in responses
        for _code, _message, _type, name, entries in response.resources
    }


async def test_the_product_creates_its_topics_with_three_replicas_and_two_in_sync(
    cluster_stack: ChaosStack,
) -> None:
    cluster = cluster_of(cluster_stack)
    stack = cluster_stack.stack
    names = [stack.requests_topic, stack.replies_topic, stack.dlq_topic]

    states = await partition_states(cluster.bootstrap_servers, names)
    configs = await _topic_configs(cluster.bootstrap_servers, names)

    assert {len(state.replicas) for state in states} == {REPLICAS}
    assert all(state.fully_replicated for state in states)
    assert {configs[name]["min.insync.replicas"] for name in names} == {str(MIN_INSYNC)}
    assert cluster.running() == [1, 2, 3]


async def test_a_rolling_restart_of_the_three_brokers_fails_no_lookup(
    cluster_stack: ChaosStack,
) -> None:
    cluster = cluster_of(cluster_stack)

    async def rolling_restart(marks: Marks) -> None:
        for node in sorted(cluster.nodes):
            marks.now(f"node{node}_stopping_at_s")
            code = await asyncio.to_thread(cluster.terminate, node)
            marks.note(**{f"node{node}_exit_code": code})
            marks.now(f"node{node}_stopped_at_s")
            await asyncio.to_thread(cluster.restart, node)
            marks.now(f"node{node}_back_at_s")
            await wait_fully_replicated(cluster.bootstrap_servers, timeout_s=IN_SYNC_TIMEOUT_S)
            marks.now(f"node{node}_in_sync_at_s")

    report, summary = await run_scenario(
        cluster_stack, "cluster-kafka-rolling-restart", rolling_restart
    )

    assert_healthy(report, summary, cluster_stack)
    # Each a controlled shutdown, not the SIGKILL after the stop timeout.
    assert {summary["marks"][f"node{n}_exit_code"] for n in cluster.nodes} <= {0, 143}, summary
    assert_no_failed_lookup(report, summary)
    assert summary["counters"]["expired_replies"] == 0, summary
    assert summary["counters"]["reply_log_lost"] == 0, summary
    assert_always_ready(summary)


async def test_preferred_leader_elections_and_a_reassignment_fail_no_lookup(
    cluster_stack: ChaosStack,
) -> None:
    servers = cluster_of(cluster_stack).bootstrap_servers
    requests, replies = cluster_stack.stack.requests_topic, cluster_stack.stack.replies_topic
    every = [(t, p) for t in (requests, replies) for p in range(cluster_stack.stack.partitions)]
    moved: dict[str, list[str]] = {}

    async def move_leaders(marks: Marks) -> None:
        # Leadership back to each partition's preferred replica (a rolling restart leaves the
        # broker restarted last leading nothing), then gateway 0's reply partition leaves its
        # leader's broker (the next replica leads, the old copy is deleted) and comes back (it
        # copies the log again) and is made leader by a second election.
        [reply0] = [s for s in await partition_states(servers, [replies]) if s.partition == 0]
        marks.note(reassigned=f"{replies}/0 {list(reply0.replicas)}")
        marks.now("first_election_at_s")
        first = await elect_preferred_leaders(servers, every)
        await wait_fully_replicated(servers, [requests, replies], timeout_s=IN_SYNC_TIMEOUT_S)
        await asyncio.sleep(SETTLE_S)
        marks.now("reassigned_out_at_s")
        await reassign_partition(servers, replies, 0, reply0.replicas[1:])
        await wait_reassignments_done(servers)
        await wait_fully_replicated(servers, [replies], timeout_s=IN_SYNC_TIMEOUT_S)
        await asyncio.sleep(SETTLE_S)
        marks.now("reassigned_back_at_s")
        await reassign_partition(servers, replies, 0, reply0.replicas)
        await wait_reassignments_done(servers)
        await wait_fully_replicated(servers, [replies], timeout_s=IN_SYNC_TIMEOUT_S)
        await asyncio.sleep(SETTLE_S)
        marks.now("second_election_at_s")
        second = await elect_preferred_leaders(servers, every)
        await wait_fully_replicated(servers, [requests, replies], timeout_s=IN_SYNC_TIMEOUT_S)
        marks.now("done_at_s")
        moved.update(first=[f"{t}/{p}" for t, p in first], second=[f"{t}/{p}" for t, p in second])
        marks.note(leaders_moved=moved)

    report, summary = await run_scenario(cluster_stack, "cluster-kafka-leader-moves", move_leaders)

    assert_healthy(report, summary, cluster_stack)
    assert f"{replies}/0" in moved["second"], "the reassigned partition's leader never moved"
    assert_no_failed_lookup(report, summary)
    assert summary["counters"]["reply_log_lost"] == 0, summary
    assert_always_ready(summary)
