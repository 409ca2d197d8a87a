"""What a local Apache Kafka cluster is doing, and the operator's moves on it, over the protocol.

Used with :class:`devstack.kafka_cluster.KafkaCluster` by the tests that fail brokers:

* :func:`partition_states` / :func:`wait_fully_replicated`: every partition's leader, replicas
  and in-sync replicas (Metadata), and the wait until none is under-replicated;
* :func:`leader_counts` / :func:`busiest_leader`: which node leads how many partitions, and
  which leads the most;
* :func:`elect_preferred_leaders`: a preferred-leader election (ElectLeaders, what
  ``kafka-leader-election.sh --election-type PREFERRED`` sends);
* :func:`reassign_partition` / :func:`wait_reassignments_done`: a partition reassignment
  (AlterPartitionReassignments / ListPartitionReassignments, what
  ``kafka-reassign-partitions.sh`` sends).

The Apache Kafka tools are not among the jars the local broker runs from, and aiokafka's admin
client has no ElectLeaders call, so that request is defined here with aiokafka's protocol types.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import (
    AlterPartitionReassignmentsRequest,
    ListPartitionReassignmentsRequest,
)
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.metadata import MetadataRequest
from aiokafka.protocol.types import (
    Array,
    CompactArray,
    CompactString,
    Int8,
    Int16,
    Int32,
    Schema,
    String,
    TaggedFields,
)

#: ElectLeaders election types.
PREFERRED: Final = 0
#: Error codes a request may answer per partition without anything being wrong.
ELECTION_NOT_NEEDED: Final = 84
_REQUEST_TIMEOUT_MS: Final = 10_000

TopicPartition: TypeAlias = tuple[str, int]


class ClusterAdminError(Exception):
    """The cluster refused an operation, or did not reach the state waited for in time."""


@dataclass(frozen=True, slots=True)
class PartitionState:
    """One partition as the cluster's metadata describes it."""

    topic: str
    partition: int
    leader: int  # -1: none
    replicas: tuple[int, ...]
    isr: tuple[int, ...]

    @property
    def fully_replicated(self) -> bool:
        """It has a leader and every replica is in sync."""
        return self.leader >= 0 and set(self.isr) == set(self.replicas)


@asynccontextmanager
async def admin_client(bootstrap_servers: str) -> AsyncIterator[AIOKafkaAdminClient]:
    """A started admin client of the cluster, closed on exit."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        client_id="journeys-cluster-admin",
        request_timeout_ms=_REQUEST_TIMEOUT_MS,
    )
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


async def _send(admin: AIOKafkaAdminClient, request: Any) -> Any:
    """Send ``request`` to the first node that accepts a connection: the metadata still lists
    a node that was just stopped, and aiokafka's admin client would pick one at random."""
    client = admin._client  # no public way to choose the node
    for node in sorted(broker.nodeId for broker in client.cluster.brokers()):
        if await client.ready(node):
            return await client.send(node, request)
    raise ClusterAdminError("no node of the cluster accepts a connection")


async def _describe(admin: AIOKafkaAdminClient, topics: Sequence[str] | None) -> list[Any]:
    response = await _send(
        admin, MetadataRequest(list(topics) if topics is not None else None, False)
    )
    described: list[Any] = response.to_object()["topics"]
    return described


async def partition_states(
    bootstrap_servers: str, topics: Sequence[str] | None = None
) -> list[PartitionState]:
    """Every partition of ``topics`` (default: all, the internal ones included)."""
    async with admin_client(bootstrap_servers) as admin:
        described = await _describe(admin, topics)
    states: list[PartitionState] = []
    for topic in described:
        if topic["error_code"] != 0:
            raise ClusterAdminError(f"topic {topic['topic']!r}: error code {topic['error_code']}")
        for p in topic["partitions"]:
            states.append(
                PartitionState(
                    topic["topic"],
                    p["partition"],
                    p["leader"],
                    tuple(p["replicas"]),
                    tuple(p["isr"]),
                )
            )
    return sorted(states, key=lambda s: (s.topic, s.partition))


async def wait_fully_replicated(
    bootstrap_servers: str,
    topics: Sequence[str] | None = None,
    *,
    timeout_s: float = 60.0,
    poll_s: float = 0.25,
) -> list[PartitionState]:
    """Wait until no partition of ``topics`` (default: all) is under-replicated or leaderless.

    Raises :class:`ClusterAdminError` naming the partitions still behind after ``timeout_s``.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    behind: list[PartitionState] = []
    while True:
        try:
            states = await partition_states(bootstrap_servers, topics)
        except Exception as exc:  # a node restarting: ask again
            states, behind = [], [PartitionState(f"metadata unavailable: {exc}", -1, -1, (), ())]
        else:
            behind = [s for s in states if not s.fully_replicated]
            if states and not behind:
                return states
        if loop.time() > deadline:
            raise ClusterAdminError(f"under-replicated after {timeout_s:.0f}s: {behind[:10]}")
        await asyncio.sleep(poll_s)


def leader_counts(states: Iterable[PartitionState]) -> Counter[int]:
    """How many of ``states``' partitions each node leads (-1 counts the leaderless)."""
    return Counter(state.leader for state in states)


def leading_most(states: Iterable[PartitionState], exclude: Iterable[int] = ()) -> int:
    """The node leading the most of ``states``' partitions (the lowest id on a tie), among
    those not in ``exclude``."""
    counts = leader_counts(states)
    for node in (-1, *exclude):
        counts.pop(node, None)
    if not counts:
        raise ClusterAdminError("no partition has a leader")
    return min(counts, key=lambda node: (-counts[node], node))


async def busiest_leader(
    bootstrap_servers: str, topics: Sequence[str], exclude: Iterable[int] = ()
) -> int:
    """The node leading the most partitions of ``topics`` (the lowest id on a tie), among
    those not in ``exclude``."""
    return leading_most(await partition_states(bootstrap_servers, topics), exclude)


class ElectLeadersResponse_v1(Response):  # type: ignore[misc]
    API_KEY = 43
    API_VERSION = 1
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("error_code", Int16),
        (
            "replica_election_results",
            Array(
                ("topic", String("utf-8")),
                (
                    "partition_result",
                    Array(
                        ("partition_id", Int32),
                        ("error_code", Int16),
                        ("error_message", String("utf-8")),
                    ),
                ),
            ),
        ),
    )


class ElectLeadersResponse_v2(Response):  # type: ignore[misc]
    API_KEY = 43
    API_VERSION = 2
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("error_code", Int16),
        (
            "replica_election_results",
            CompactArray(
                ("topic", CompactString("utf-8")),
                (
                    "partition_result",
                    CompactArray(
                        ("partition_id", Int32),
                        ("error_code", Int16),
                        ("error_message", CompactString("utf-8")),
                        ("tags", TaggedFields),
                    ),
                ),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class ElectLeadersRequest_v1(RequestStruct):  # type: ignore[misc]
    API_KEY = 43
    API_VERSION = 1
    RESPONSE_TYPE = ElectLeadersResponse_v1
    SCHEMA = Schema(
        ("election_type", Int8),
        ("topic_partitions", Array(("topic", String("utf-8")), ("partition_id", Array(Int32)))),
        ("timeout_ms", Int32),
    )


class ElectLeadersRequest_v2(RequestStruct):  # type: ignore[misc]
    FLEXIBLE_VERSION = True
    API_KEY = 43
    API_VERSION = 2
    RESPONSE_TYPE = ElectLeadersResponse_v2
    SCHEMA = Schema(
        ("election_type", Int8),
        (
            "topic_partitions",
            CompactArray(
                ("topic", CompactString("utf-8")),
                ("partition_id", CompactArray(Int32)),
                ("tags", TaggedFields),
            ),
        ),
        ("timeout_ms", Int32),
        ("tags", TaggedFields),
    )


class ElectLeadersRequest(Request[ElectLeadersRequest_v1 | ElectLeadersRequest_v2]):  # type: ignore[misc]
    """ElectLeaders for explicit partitions (the versions Apache Kafka 4 answers)."""

    API_KEY = 43

    def __init__(
        self, election_type: int, partitions: Sequence[TopicPartition], timeout_ms: int
    ) -> None:
        self._election_type = election_type
        self._partitions = partitions
        self._timeout_ms = timeout_ms

    def build(
        self, request_struct_class: type[ElectLeadersRequest_v1 | ElectLeadersRequest_v2]
    ) -> ElectLeadersRequest_v1 | ElectLeadersRequest_v2:
        by_topic: dict[str, list[int]] = {}
        for topic, partition in self._partitions:
            by_topic.setdefault(topic, []).append(partition)
        if request_struct_class is ElectLeadersRequest_v2:
            topics: list[Any] = [(t, ps, {}) for t, ps in by_topic.items()]
            return ElectLeadersRequest_v2(self._election_type, topics, self._timeout_ms, {})
        return ElectLeadersRequest_v1(self._election_type, list(by_topic.items()), self._timeout_ms)


def election_errors(response: Any) -> dict[TopicPartition, tuple[int, str | None]]:
    """The partitions an ElectLeaders response reports an error for (not-needed ones left out)."""
    errors: dict[TopicPartition, tuple[int, str | None]] = {}
    for topic, results, *_tags in response.replica_election_results:
        for partition, code, message, *_rest in results:
            if code not in (0, ELECTION_NOT_NEEDED):
                errors[(topic, partition)] = (code, message)
    return errors


async def elect_preferred_leaders(
    bootstrap_servers: str, partitions: Sequence[TopicPartition]
) -> list[TopicPartition]:
    """Make each partition's first replica its leader again; returns the partitions that were
    led by another replica before (the others needed no election). Raises
    :class:`ClusterAdminError`."""
    async with admin_client(bootstrap_servers) as admin:
        wanted = set(partitions)
        described = await _describe(admin, sorted({topic for topic, _ in partitions}))
        moving = [
            (t["topic"], p["partition"])
            for t in described
            for p in t["partitions"]
            if (t["topic"], p["partition"]) in wanted and p["leader"] != p["replicas"][0]
        ]
        request = ElectLeadersRequest(PREFERRED, partitions, _REQUEST_TIMEOUT_MS)
        response = await _send(admin, request)
    if response.error_code != 0:
        raise ClusterAdminError(f"ElectLeaders refused: error code {response.error_code}")
    if errors := election_errors(response):
        raise ClusterAdminError(f"preferred-leader election failed: {errors}")
    return sorted(moving)


async def reassign_partition(
    bootstrap_servers: str, topic: str, partition: int, replicas: Sequence[int]
) -> None:
    """Ask the controller to move ``topic``/``partition`` onto ``replicas`` (first: preferred
    leader). Returns once accepted; :func:`wait_reassignments_done` waits for the move."""
    async with admin_client(bootstrap_servers) as admin:
        request = AlterPartitionReassignmentsRequest(
            timeout_ms=_REQUEST_TIMEOUT_MS,
            topics=[(topic, [(partition, list(replicas), {})], {})],
            tags={},
        )
        response = await _send(admin, request)
    if response.error_code != 0:
        raise ClusterAdminError(f"reassignment refused: {response.error_message}")
    for _name, results, *_tags in response.responses:
        for index, code, message, *_rest in results:
            if code != 0:
                raise ClusterAdminError(f"reassigning {topic}/{index} refused: {message}")


async def reassignments_in_progress(bootstrap_servers: str) -> list[TopicPartition]:
    """The partitions whose reassignment is still running."""
    async with admin_client(bootstrap_servers) as admin:
        request = ListPartitionReassignmentsRequest(
            timeout_ms=_REQUEST_TIMEOUT_MS,
            topics=None,  # null: every ongoing reassignment
            tags={},
        )
        response = await _send(admin, request)
    if response.error_code != 0:
        raise ClusterAdminError(f"listing reassignments failed: {response.error_message}")
    return [
        (name, partition[0])
        for name, partitions, *_tags in response.topics
        for partition in partitions
    ]


async def wait_reassignments_done(bootstrap_servers: str, *, timeout_s: float = 60.0) -> None:
    """Wait until no reassignment is in progress; :class:`ClusterAdminError` after
    ``timeout_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while running := await reassignments_in_progress(bootstrap_servers):
        if loop.time() > deadline:
            raise ClusterAdminError(
                f"reassignments still running after {timeout_s:.0f}s: {running}"
            )
        await asyncio.sleep(0.25)
