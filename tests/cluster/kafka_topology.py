"""The production Kafka topology of the cluster tests, and how a scenario runs on it.

The chaos topology (tests/chaos/conftest.py: a DuckDB store server with 200 customers, two
responders, two gateways as real processes) on the three-broker ``kafka_cluster``, its topics
created by the processes themselves with ``JOURNEYS_KAFKA_REPLICATION_FACTOR=3`` and
``JOURNEYS_KAFKA_MIN_INSYNC_REPLICAS=2``. :func:`run_scenario` puts open-loop load on it
(tests/chaos/load.py: every answer checked against the store) with a fault 3 s in, samples the
processes' counters each second (:mod:`tests.cluster.report`) and publishes the figures.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, cast

from devstack.disposable_stack import ProcessStack as DisposableStack
from devstack.kafka_cluster import KafkaCluster
from devstack.kafka_cluster_admin import wait_fully_replicated
from tests.chaos.conftest import ChaosStack, build_chaos_stack
from tests.chaos.load import LoadReport
from tests.cluster.report import CounterSampler, publish
from tests.support.stack_fixtures import ProcessStack

RATE: Final = 100.0
REPLICAS: Final = 3
MIN_INSYNC: Final = 2
#: How long a restarted broker's replicas may take to be in sync again.
IN_SYNC_TIMEOUT_S: Final = 90.0


class ReplicatedStack(DisposableStack[KafkaCluster]):
    """The chaos topology's processes on the cluster, creating their topics as production has
    them (replication factor 3, ``min.insync.replicas`` 2)."""

    def kafka_env(self) -> dict[str, str]:
        return {
            **super().kafka_env(),
            "JOURNEYS_KAFKA_REPLICATION_FACTOR": str(REPLICAS),
            "JOURNEYS_KAFKA_MIN_INSYNC_REPLICAS": str(MIN_INSYNC),
        }


def cluster_of(chaos: ChaosStack) -> KafkaCluster:
    """The cluster ``chaos`` runs on."""
    return cast(KafkaCluster, chaos.stack.broker)


def replicated_chaos_stack(cluster: KafkaCluster, work_dir: Path) -> Iterator[ChaosStack]:
    """The topology on ``cluster`` (for a module fixture): every process stopped afterwards."""
    stack = ReplicatedStack(cluster, work_dir)
    try:
        # build_chaos_stack starts processes and reads their URLs; any Kafka endpoint will do.
        chaos = build_chaos_stack(cast(ProcessStack, stack))
        asyncio.run(wait_fully_replicated(cluster.bootstrap_servers, timeout_s=IN_SYNC_TIMEOUT_S))
        yield chaos
    finally:
        stack.close()


@dataclass
class Marks:
    """When each step of a fault happened (seconds since the load started), and notes."""

    started: float = field(default_factory=time.monotonic)
    values: dict[str, Any] = field(default_factory=dict)

    def now(self, name: str) -> float:
        at = round(time.monotonic() - self.started, 2)
        self.values[name] = at
        return at

    def note(self, **values: Any) -> None:
        self.values.update(values)


async def run_scenario(
    chaos: ChaosStack,
    scenario: str,
    fault: Callable[[Marks], Awaitable[None]],
    *,
    max_run_s: float = 150.0,
) -> tuple[LoadReport, dict[str, Any]]:
    """Load at :data:`RATE` with ``fault`` 3 s in and the counters sampled each second, from a
    fully replicated cluster; publishes and returns the figures (``marks``: what the fault
    noted; ``counters``: each counter's increase over the run)."""
    await wait_fully_replicated(cluster_of(chaos).bootstrap_servers, timeout_s=IN_SYNC_TIMEOUT_S)
    sampler = CounterSampler(
        [g.url for g in chaos.gateways], [r.metrics_url for r in chaos.responders]
    )
    stop = asyncio.Event()
    sampling = asyncio.create_task(sampler.run(stop))
    marks = Marks()
    try:
        report = await chaos.load(RATE).run(
            scenario, 3.0, lambda: fault(marks), max_run_s=max_run_s
        )
    finally:
        stop.set()
        await sampling
    return report, publish(report, sampler, marks.values)


def assert_healthy(report: LoadReport, summary: dict[str, Any], chaos: ChaosStack) -> None:
    """Never a wrong answer; every request sent; every process of ours still running."""
    assert summary["sent"] > 0
    assert not report.wrong, f"wrong answers: {report.wrong[:5]}"
    assert report.skipped == 0, summary
    assert all(r.process.running() for r in chaos.responders)
    assert all(g.process.running() for g in chaos.gateways)


def assert_no_failed_lookup(report: LoadReport, summary: dict[str, Any]) -> None:
    assert not report.failed, f"{len(report.failed)} lookups failed: {summary}"


def assert_always_ready(summary: dict[str, Any]) -> None:
    """No gateway's /readyz said 503 while one broker of three was away."""
    assert summary["counters"]["gateway_not_ready"] == 0, summary
