"""A local Apache Kafka cluster: several KRaft nodes, each broker and controller, one quorum.

Production runs three brokers with replication factor 3 and ``min.insync.replicas=2``
(deploy/kafka). :class:`KafkaCluster` runs that topology on 127.0.0.1 from the same jars as the
single local broker (:mod:`devstack.apache_kafka`), for tests that fail one broker of three:

* every node is a combined broker and controller; the voters are static
  (``controller.quorum.voters=1@h:c1,2@h:c2,3@h:c3``) and every node is formatted with one
  shared cluster id;
* replication as in production (:data:`CLUSTER_SETTINGS`): internal topics and new topics get
  3 replicas, ``min.insync.replicas=2``, no unclean leader election;
* each node keeps its log across restarts, so :meth:`KafkaCluster.terminate` (SIGTERM, a
  controlled shutdown) or :meth:`KafkaCluster.kill` (SIGKILL, a crash) followed by
  :meth:`KafkaCluster.restart` is a production broker's restart.

What the cluster is doing (replicas in sync, who leads, elections, reassignments) is asked
over the Kafka protocol in :mod:`devstack.kafka_cluster_admin`.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from devstack.apache_kafka import (
    ApacheKafkaBroker,
    KafkaInstall,
    find_apache_kafka,
    new_cluster_id,
)
from devstack.processes import free_port
from journeys.kafka.errors import BrokerStartError

#: What a node of the cluster sets on top of :data:`SMALL_NODE_SETTINGS`: production's
#: replication as deploy/kafka/README.md recommends it, and Kafka's own failure detection.
CLUSTER_SETTINGS: Final[Mapping[str, str]] = {
    "default.replication.factor": "3",
    "min.insync.replicas": "2",
    "unclean.leader.election.enable": "false",
    "offsets.topic.replication.factor": "3",
    "transaction.state.log.replication.factor": "3",
    "transaction.state.log.min.isr": "2",
    "share.coordinator.state.topic.replication.factor": "3",
    "share.coordinator.state.topic.min.isr": "2",
    # After any leader change (an election, a crash) a new leader's high watermark moves only
    # when its followers have fetched from it. Their fetcher takes the partition up after its
    # current long poll (replica.fetch.wait.max.ms, 500 ms by default) or, when its first fetch
    # reached the new leader before that broker applied the change, after
    # replica.fetch.backoff.ms (1 s by default): seen in CI as a 2.1 s stall of one gateway's
    # replies at a preferred-leader election, and as 0.4-1.2 s after a crash's fencing.
    "replica.fetch.wait.max.ms": "100",
    "replica.fetch.backoff.ms": "100",
    # A single node relaxes these (nobody to fail over to); a cluster fails over, and how
    # soon it notices a crashed broker is what the tests measure: Kafka's defaults.
    "broker.session.timeout.ms": "9000",
    "broker.heartbeat.interval.ms": "2000",
    "controller.quorum.request.timeout.ms": "2000",
}

#: Failure detection fast enough for a 2 s lookup deadline (``broker.session.timeout.ms``):
#: until the controller fences a crashed broker it stays in the ISR of every partition it
#: replicates, and none of them can take a write (acks=all) or show a consumer a new record.
#: Kafka's default (9 s) makes a broker crash a 9 s outage of every lookup; see
#: deploy/kafka/README.md.
FAST_FAILURE_DETECTION: Final[Mapping[str, str]] = {
    "broker.session.timeout.ms": "1000",
    "broker.heartbeat.interval.ms": "250",
}

#: The line a node logs when it becomes the active controller (its id, the epoch).
_BECAME_ACTIVE: Final = re.compile(
    r"\[QuorumController id=(\d+)\] Becoming the active controller at epoch (\d+)"
)

#: Heap of one node: three of them share a small machine with the rest of a test run.
NODE_HEAP_MB: Final = 384
_STOP_TIMEOUT_S: Final = 20.0


def _distinct_free_ports(count: int, host: str) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port(host)
        if port not in ports:
            ports.append(port)
    return ports


class KafkaCluster:
    """``size`` Apache Kafka KRaft nodes on ``host`` (ids 1..size); a context manager.

    ``work_dir`` holds one directory and one log file per node; when not given a temporary
    one is made and removed by :meth:`stop`. :meth:`start` always begins with empty logs.
    ``optimise=False`` runs the JIT's quick tier only (test runs).
    """

    def __init__(
        self,
        size: int = 3,
        host: str = "127.0.0.1",
        *,
        install: KafkaInstall | None = None,
        work_dir: Path | None = None,
        heap_mb: int = NODE_HEAP_MB,
        optimise: bool = True,
        ready_timeout: float = 300.0,
        overrides: Mapping[str, str] | None = None,
    ) -> None:
        if size < 1:
            raise ValueError("a cluster has at least one node")
        self.host = host
        self.install = install or find_apache_kafka()
        self._owns_dir = work_dir is None
        self.work_dir = (
            work_dir or Path(tempfile.gettempdir()) / f"kafka-cluster-{uuid.uuid4().hex}"
        )
        self.cluster_id = new_cluster_id()
        ports = _distinct_free_ports(2 * size, host)
        broker_ports, controller_ports = ports[:size], ports[size:]
        self.voters = ",".join(
            f"{node_id}@{host}:{port}" for node_id, port in enumerate(controller_ports, start=1)
        )
        settings = {**CLUSTER_SETTINGS, **(overrides or {})}
        self.nodes: dict[int, ApacheKafkaBroker] = {
            node_id: ApacheKafkaBroker(
                broker_port,
                host,
                install=self.install,
                data_dir=self.work_dir / f"node-{node_id}",
                log_path=self.work_dir / f"node-{node_id}.log",
                heap_mb=heap_mb,
                ready_timeout=ready_timeout,
                overrides=settings,
                optimise=optimise,
                keep_log=True,
                node_id=node_id,
                controller_port=controller_port,
                voters=self.voters,
                cluster_id=self.cluster_id,
            )
            for node_id, (broker_port, controller_port) in enumerate(
                zip(broker_ports, controller_ports, strict=True), start=1
            )
        }

    @property
    def version(self) -> str:
        """The Apache Kafka version of the jars."""
        return self.install.version

    @property
    def bootstrap_servers(self) -> str:
        """Every node's ``host:port``, comma-separated, for Kafka clients."""
        return ",".join(node.bootstrap_servers for node in self.nodes.values())

    def node(self, node_id: int) -> ApacheKafkaBroker:
        """The node with ``node_id`` (KeyError for another id)."""
        return self.nodes[node_id]

    def running(self) -> list[int]:
        """The ids of the nodes whose process is alive."""
        return [node_id for node_id, node in self.nodes.items() if node.running()]

    def log_path(self, node_id: int) -> Path:
        """Where node ``node_id`` writes its output."""
        return self.nodes[node_id].log_path

    def active_controller(self) -> int | None:
        """The node that became the active controller last (the highest epoch in the nodes'
        logs), None before any did."""
        claims = [
            (int(match[2]), int(match[1]))
            for node in self.nodes.values()
            if node.log_path.exists()
            for match in _BECAME_ACTIVE.finditer(node.log_path.read_text(errors="replace"))
        ]
        return max(claims)[1] if claims else None

    def start(self) -> Self:
        """Format every node with empty logs, start them all, wait until each is ready.

        No node is ready alone: the offsets topic (which a node's readiness asks for) needs
        three live brokers. Raises :class:`BrokerStartError`, every node stopped again.
        """
        for node in self.nodes.values():
            if node.running():
                raise BrokerStartError(f"node {node.node_id} of the cluster is already started")
            shutil.rmtree(node.data_dir, ignore_errors=True)
        try:
            for node in self.nodes.values():
                node.launch()
            for node in self.nodes.values():
                node.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def terminate(self, node_id: int, timeout: float = _STOP_TIMEOUT_S) -> int | None:
        """SIGTERM node ``node_id`` (a controlled shutdown: its partitions' leadership moves
        first), SIGKILL after ``timeout``; its log stays. Returns the exit code."""
        return self.nodes[node_id].stop(timeout)

    def kill(self, node_id: int) -> None:
        """SIGKILL node ``node_id``: a crash; its log stays."""
        self.nodes[node_id].kill()

    def restart(self, node_id: int) -> None:
        """Start node ``node_id`` again on its log and wait until it answers."""
        self.nodes[node_id].start()

    def stop(self) -> None:
        """Stop every node at once (SIGTERM, SIGKILL after a while); remove an owned dir.

        All at once: stopped one after the other, the last nodes would wait for a controller
        quorum that is already gone.
        """
        with ThreadPoolExecutor(max_workers=len(self.nodes)) as pool:
            list(pool.map(lambda node: node.stop(_STOP_TIMEOUT_S), self.nodes.values()))
        if self._owns_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
