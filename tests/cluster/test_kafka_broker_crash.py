"""One broker of three killed with SIGKILL under load, restarted 10 s later (the issue's
scenario b), on the production Kafka topology (tests/cluster/kafka_topology.py).

The victim is the broker leading the most request partitions, made to lead gateway 0's reply
partition too (a reassignment and a preferred-leader election before the load). The issue's
targets: no failed lookup; failing that, failures only inside the window in which Kafka has not
yet moved the dead broker's leaderships (``leaders_moved_at_s``) and at most 0.5 % of the run;
never a wrong answer, no gateway ever not ready. All of these are asserted.

What bounds it (measured, see the report): until the controller fences the dead broker
(``broker.session.timeout.ms``, 9 s by default) it stays in the ISR of every partition (RF 3 on
3 brokers: all of them), so no partition's high watermark advances: acks=all sends are not
acknowledged and no consumer sees a new record, anywhere in the cluster. Lookups waiting longer
than their deadline for the fencing fail, whatever the clients do: on Kafka's default 876 of
2,031 failed. So the cluster here detects a crash as production must for a 2 s deadline
(:data:`~devstack.kafka_cluster.FAST_FAILURE_DETECTION`, deploy/kafka/README.md), and the
victim is not the active controller: production runs dedicated controllers, and a controller
failover adds the quorum's own election to the window (a separate fault). The cluster's
follower-fetch settings (:data:`~devstack.kafka_cluster.CLUSTER_SETTINGS`) make the new
leaders' followers fetch from them at once after the fencing; before they did, the first replies
after it waited 0.4-1.2 s more, and one CI run failed 44 of 1,949 lookups.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Final

import pytest

from devstack.kafka_cluster import FAST_FAILURE_DETECTION, KafkaCluster
from devstack.kafka_cluster_admin import (
    busiest_leader,
    elect_preferred_leaders,
    partition_states,
    reassign_partition,
    wait_fully_replicated,
    wait_reassignments_done,
)
from tests.chaos.conftest import ChaosStack
from tests.chaos.load import DEADLINE_S
from tests.cluster.kafka_topology import (
    IN_SYNC_TIMEOUT_S,
    Marks,
    assert_always_ready,
    assert_healthy,
    cluster_of,
    replicated_chaos_stack,
    run_scenario,
)

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(400)]

#: Read by the ``kafka_cluster`` fixture (tests/cluster/conftest.py).
KAFKA_BROKER_OVERRIDES: Final = FAST_FAILURE_DETECTION

#: How long the killed broker stays down.
DOWN_S: Final = 10.0
#: The issue's ceiling on failed lookups when none is out of reach.
MAX_FAILED_SHARE: Final = 0.005


@pytest.fixture(scope="module")
def cluster_stack(
    kafka_cluster: KafkaCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ChaosStack]:
    yield from replicated_chaos_stack(kafka_cluster, tmp_path_factory.mktemp("crash-stack"))


async def lead_a_reply_partition(chaos: ChaosStack, node: int) -> int:
    """Make ``node`` the leader of one gateway's reply partition (a reassignment that puts it
    first, and a preferred-leader election) unless it leads one; returns the partition."""
    servers = cluster_of(chaos).bootstrap_servers
    replies = chaos.stack.replies_topic
    gateways = range(len(chaos.gateways))  # gateway n reads reply partition n
    states = {s.partition: s for s in await partition_states(servers, [replies])}
    for partition in gateways:
        if states[partition].leader == node:
            return partition
    partition = gateways[0]
    replicas = [node, *(r for r in states[partition].replicas if r != node)]
    await reassign_partition(servers, replies, partition, replicas)
    await wait_reassignments_done(servers)
    await wait_fully_replicated(servers, [replies], timeout_s=IN_SYNC_TIMEOUT_S)
    await elect_preferred_leaders(servers, [(replies, partition)])
    await wait_fully_replicated(servers, [replies], timeout_s=IN_SYNC_TIMEOUT_S)
    return partition


async def test_a_broker_killed_with_sigkill_fails_no_lookup(cluster_stack: ChaosStack) -> None:
    cluster = cluster_of(cluster_stack)
    servers = cluster.bootstrap_servers
    requests, replies = cluster_stack.stack.requests_topic, cluster_stack.stack.replies_topic
    controller = cluster.active_controller()
    assert controller is not None, "no node logged becoming the active controller"
    victim = await busiest_leader(servers, [requests], exclude=[controller])
    reply_partition = await lead_a_reply_partition(cluster_stack, victim)
    led = [
        f"{s.topic}/{s.partition}"
        for s in await partition_states(servers, [requests, replies])
        if s.leader == victim
    ]

    async def leaders_moved(marks: Marks) -> None:
        """Note when no partition is led by the victim or has it in sync any more."""
        while True:
            states = await partition_states(servers, [requests, replies])
            if all(s.leader not in (victim, -1) and victim not in s.isr for s in states):
                marks.now("leaders_moved_at_s")
                return
            await asyncio.sleep(0.1)

    async def crash(marks: Marks) -> None:
        marks.note(victim=victim, controller=controller, led=led, reply_partition=reply_partition)
        marks.now("killed_at_s")
        await asyncio.to_thread(cluster.kill, victim)
        watching = asyncio.create_task(leaders_moved(marks))
        await asyncio.sleep(DOWN_S)
        marks.now("restarting_at_s")
        await asyncio.to_thread(cluster.restart, victim)
        marks.now("restarted_at_s")
        await asyncio.wait([watching], timeout=IN_SYNC_TIMEOUT_S)
        watching.cancel()
        await wait_fully_replicated(servers, timeout_s=IN_SYNC_TIMEOUT_S)
        marks.now("in_sync_at_s")

    report, summary = await run_scenario(cluster_stack, "cluster-kafka-broker-sigkill", crash)

    assert_healthy(report, summary, cluster_stack)
    marks = summary["marks"]
    assert marks["led"], "the killed broker led nothing"
    assert "leaders_moved_at_s" in marks, f"Kafka never moved the leaders: {marks}"
    outside = [
        o
        for o in report.failed
        if not marks["killed_at_s"] - DEADLINE_S <= o.sent_at <= marks["leaders_moved_at_s"]
    ]
    assert not outside, f"{len(outside)} lookups failed outside the window: {summary}"
    assert_always_ready(summary)
    failed_share = len(report.failed) / len(report.outcomes)
    print(f"failed {failed_share:.2%} of the run; the issue's ceiling is {MAX_FAILED_SHARE:.1%}")
    assert failed_share <= MAX_FAILED_SHARE, f"{failed_share:.1%} of lookups failed: {summary}"
