"""The local Kafka cluster's configuration and its admin helpers, without starting a JVM."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.apache_kafka import ApacheKafkaBroker, KafkaInstall
from devstack.kafka_cluster import CLUSTER_SETTINGS, KafkaCluster
from devstack.kafka_cluster_admin import (
    ELECTION_NOT_NEEDED,
    ClusterAdminError,
    ElectLeadersRequest,
    ElectLeadersRequest_v1,
    ElectLeadersRequest_v2,
    PartitionState,
    election_errors,
    leader_counts,
    leading_most,
)

INSTALL = KafkaInstall(java="java", libs=Path("/nonexistent/libs"), version="4.4.0")


def test_a_single_broker_is_node_1_and_the_only_voter(tmp_path: Path) -> None:
    broker = ApacheKafkaBroker(install=INSTALL, data_dir=tmp_path)
    broker.controller_port = 19093

    props = broker.server_properties()

    assert props["node.id"] == "1"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"


def test_the_cluster_nodes_share_one_quorum_and_one_cluster_id(tmp_path: Path) -> None:
    cluster = KafkaCluster(install=INSTALL, work_dir=tmp_path)
    nodes = cluster.nodes

    assert sorted(nodes) == [1, 2, 3]
    voters = cluster.voters.split(",")
    assert [v.split("@")[0] for v in voters] == ["1", "2", "3"]
    ports = {n.port for n in nodes.values()} | {n.controller_port for n in nodes.values()}
    assert len(ports) == 6
    for node_id, node in nodes.items():
        props = node.server_properties()
        assert props["node.id"] == str(node_id)
        assert props["controller.quorum.voters"] == cluster.voters
        assert f"CONTROLLER://127.0.0.1:{node.controller_port}" in props["listeners"]
        assert f"{node_id}@127.0.0.1:{node.controller_port}" in voters
        assert node.cluster_id == cluster.cluster_id
        assert node.keep_log
        assert node.data_dir == tmp_path / f"node-{node_id}"
    assert cluster.bootstrap_servers == ",".join(f"127.0.0.1:{n.port}" for n in nodes.values())


def test_the_cluster_replicates_as_production_does(tmp_path: Path) -> None:
    props = KafkaCluster(install=INSTALL, work_dir=tmp_path).node(2).server_properties()

    assert props["default.replication.factor"] == "3"
    assert props["min.insync.replicas"] == "2"
    assert props["offsets.topic.replication.factor"] == "3"
    assert props["unclean.leader.election.enable"] == "false"
    assert {k: props[k] for k in CLUSTER_SETTINGS} == dict(CLUSTER_SETTINGS)


def test_overrides_win_over_the_cluster_settings(tmp_path: Path) -> None:
    cluster = KafkaCluster(
        install=INSTALL, work_dir=tmp_path, overrides={"broker.session.timeout.ms": "3000"}
    )

    assert cluster.node(3).server_properties()["broker.session.timeout.ms"] == "3000"


def _state(partition: int, leader: int, isr: tuple[int, ...]) -> PartitionState:
    return PartitionState("t", partition, leader, (1, 2, 3), isr)


def test_a_partition_is_fully_replicated_only_with_a_leader_and_every_replica_in_sync() -> None:
    assert _state(0, 1, (3, 1, 2)).fully_replicated
    assert not _state(0, 1, (1, 2)).fully_replicated
    assert not _state(0, -1, (1, 2, 3)).fully_replicated


def test_the_node_leading_most_partitions_wins_and_a_tie_goes_to_the_lowest_id() -> None:
    states = [_state(0, 2, ()), _state(1, 3, ()), _state(2, 3, ()), _state(3, -1, ())]

    assert leader_counts(states) == {2: 1, 3: 2, -1: 1}
    assert leading_most(states) == 3
    assert leading_most(states[:2]) == 2
    with pytest.raises(ClusterAdminError):
        leading_most([_state(0, -1, ())])


def test_an_excluded_node_is_never_the_busiest_leader() -> None:
    states = [_state(0, 2, ()), _state(1, 3, ()), _state(2, 3, ())]

    assert leading_most(states, exclude=[3]) == 2
    with pytest.raises(ClusterAdminError):
        leading_most(states, exclude=[2, 3])


def test_the_active_controller_is_the_node_that_claimed_the_highest_epoch(tmp_path: Path) -> None:
    cluster = KafkaCluster(work_dir=tmp_path, install=INSTALL)
    assert cluster.active_controller() is None
    claim = "INFO [QuorumController id={}] Becoming the active controller at epoch {}, next"
    cluster.log_path(1).parent.mkdir(parents=True, exist_ok=True)
    cluster.log_path(1).write_text(claim.format(1, 1) + "\n" + claim.format(1, 4) + "\n")
    cluster.log_path(2).parent.mkdir(parents=True, exist_ok=True)
    cluster.log_path(2).write_text(claim.format(2, 7) + "\n")
    cluster.log_path(3).parent.mkdir(parents=True, exist_ok=True)
    cluster.log_path(3).write_text("INFO [QuorumController id=3] Renounced the leadership\n")

    assert cluster.active_controller() == 2


def test_an_election_request_groups_partitions_by_topic_in_either_version() -> None:
    request = ElectLeadersRequest(0, [("a", 0), ("b", 1), ("a", 2)], 5_000)

    v2 = request.build(ElectLeadersRequest_v2).to_object()
    v1 = request.build(ElectLeadersRequest_v1).to_object()

    assert v2["election_type"] == v1["election_type"] == 0
    assert [(t["topic"], t["partition_id"]) for t in v2["topic_partitions"]] == [
        ("a", [0, 2]),
        ("b", [1]),
    ]
    assert [(t["topic"], t["partition_id"]) for t in v1["topic_partitions"]] == [
        ("a", [0, 2]),
        ("b", [1]),
    ]
    assert request.build(ElectLeadersRequest_v2).encode()  # serialisable as sent


class _Response:
    def __init__(self, results: list[tuple[str, list[tuple[int, int, str | None]]]]) -> None:
        self.replica_election_results = results


def test_an_election_that_was_not_needed_is_no_error() -> None:
    response = _Response([("t", [(0, 0, None), (1, ELECTION_NOT_NEEDED, "x"), (2, 7, "bad")])])

    assert election_errors(response) == {("t", 2): (7, "bad")}
