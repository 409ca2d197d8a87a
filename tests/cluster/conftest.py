"""Fixtures of the production-topology tests (marker ``cluster``).

``kafka_cluster``  three Apache Kafka KRaft nodes (combined broker and controller, one quorum)
                   with production's replication: RF 3, ``min.insync.replicas=2``, no unclean
                   leader election (devstack/kafka_cluster.py); one per test module, stopped
                   after it even when a test fails. Its node logs stay in the module's tmp dir.
                   A module may set ``KAFKA_BROKER_OVERRIDES`` (broker properties) to run on
                   other broker settings than production's defaults.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.kafka_cluster import KafkaCluster
from journeys.kafka import BrokerNotFound


@pytest.fixture(scope="module")
def kafka_cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KafkaCluster]:
    """A started three-node Apache Kafka cluster on free 127.0.0.1 ports."""
    overrides = getattr(request.module, "KAFKA_BROKER_OVERRIDES", None)
    try:
        cluster = KafkaCluster(
            work_dir=tmp_path_factory.mktemp("kafka-cluster"), optimise=False, overrides=overrides
        )
    except BrokerNotFound as exc:
        pytest.fail(f"no Apache Kafka for the cluster: {exc}")
    with cluster:
        yield cluster
