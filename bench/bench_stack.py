"""The stack the request-path benchmarks measure, started on free ports and always stopped.

A local Apache Kafka broker (:func:`devstack.local_kafka`), the request path as the end-to-end
tests start it (:class:`devstack.disposable_stack.ProcessStack`: the store seeded with demo
journeys, ``responders`` responders, ``gateways`` gateways, gateway ``i`` owning reply
partition ``i``) and the BASELINE, bench/direct_app.py: the same lookup API served straight
from the store. The store is the DuckDB store server, or (``store="postgres"``) a database in
a private PostgreSQL cluster started as the tests start theirs. ``extra_env`` reaches the
gateways and responders, which is how the benchmark tries other settings without editing code.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx

from devstack import ApacheKafkaBroker, ChildProcess, http_ok, local_kafka
from devstack.disposable_stack import HOST, ProcessStack
from devstack.processes import free_port

BENCH_DIR = Path(__file__).resolve().parent
#: The benchmark measures the request path, not its logging (docs/performance.md).
QUIET = {"JOURNEYS_GATEWAY_LOG_LEVEL": "warning", "JOURNEYS_RESPONDER_LOG_LEVEL": "warning"}


@dataclass
class StackConfig:
    """What to start."""

    work_dir: Path
    customers: int = 50_000
    responders: int = 1
    gateways: int = 1
    partitions: int = 8
    store: Literal["duckdb", "postgres"] = "duckdb"
    extra_env: dict[str, str] = field(default_factory=dict)


@dataclass
class BenchStack:
    """The running stack: the request path, its broker and the baseline."""

    path: ProcessStack[ApacheKafkaBroker]
    gateway_targets: list[str]
    direct_target: str
    #: Process ids by name (``broker``, ``store``, ``responder-0``, ``gateway-0``, ``direct``):
    #: the processes whose CPU the benchmark reports.
    pids: dict[str, int]

    @property
    def broker(self) -> ApacheKafkaBroker:
        return self.path.broker

    @property
    def api_key(self) -> str:
        return self.path.api_key

    def broker_info(self) -> dict[str, str]:
        """The broker's version (as the running broker logged it) and a label for tables."""
        version = self.broker.reported_version() or self.broker.version
        return {"version": version, "label": f"Apache Kafka {version}"}


@contextmanager
def bench_stack(config: StackConfig, say: Callable[[str], None]) -> Iterator[BenchStack]:
    """Start everything, wait until a lookup answers on every gateway and on the baseline,
    yield; stop everything on the way out."""
    with ExitStack() as running:
        broker = local_kafka(log_path=config.work_dir / "broker.log")
        say(broker.name)
        running.enter_context(broker)
        path = ProcessStack(broker, config.work_dir, partitions=config.partitions)
        pids = {"broker": _pid(broker.pid)}
        if config.store == "postgres":
            pids["store"] = _start_postgres(path, running)
        running.callback(path.close)  # before the cluster and the broker stop
        if config.store == "duckdb":
            path.start_store()
        say(f"seeding {config.customers:,} customers")
        started = time.monotonic()
        path.seed(config.customers, rng_seed=42)
        say(f"seeded in {time.monotonic() - started:.1f}s")
        env = {**QUIET, **config.extra_env}
        for i in range(config.responders):
            path.start_responder(f"responder-{i}", **env)
        gateways = [path.start_gateway(f"gateway-{i}", i, **env) for i in range(config.gateways)]
        direct_port = free_port()
        path.start_process(_direct_app(path, direct_port))
        pids |= {process.name: _pid(process.pid) for process in path.processes}
        say("first lookups through Kafka")
        targets = [gateway.url.removeprefix("http://") for gateway in gateways]
        direct_target = f"{HOST}:{direct_port}"
        for target in [*targets, direct_target]:
            _wait_for_lookup(target, path.api_key, path.ready_timeout_s, config.work_dir)
        yield BenchStack(path, targets, direct_target, pids)


def _pid(pid: int | None) -> int:
    assert pid is not None, "a started process has a pid"
    return pid


def _start_postgres(path: ProcessStack[ApacheKafkaBroker], running: ExitStack) -> int:
    """A private cluster (fsync on, as ``journeys up --store postgres`` runs it) with one
    journeys database, as the tests start theirs; the postmaster's pid."""
    from tests.support.postgres_fixtures import (
        create_store_database,
        make_pg_tokens,
        running_cluster,
    )

    cluster = running.enter_context(running_cluster(durable=True))
    path.postgres = create_store_database(cluster, make_pg_tokens(cluster), "journeys")
    assert cluster.process is not None
    return _pid(cluster.process.pid)


def _direct_app(path: ProcessStack[ApacheKafkaBroker], port: int) -> ChildProcess:
    env = {
        "BENCH_DIRECT_HOST": HOST,
        "BENCH_DIRECT_PORT": str(port),
        "BENCH_DIRECT_STORE_URL": path.store_url,
        "BENCH_DIRECT_STORE_TOKEN": path.store_token("reader"),
        "BENCH_DIRECT_API_KEY": path.api_key,
    }
    return ChildProcess(
        "direct",
        [sys.executable, str(BENCH_DIR / "direct_app.py")],
        path.work_dir / "direct.log",
        env=env,
        ready=http_ok(f"http://{HOST}:{port}/readyz"),
        ready_timeout_s=path.ready_timeout_s,
    )


def _wait_for_lookup(target: str, api_key: str, timeout_s: float, logs: Path) -> None:
    url = f"http://{target}/v1/customers/cust-0000001/journeys"
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            response = httpx.get(url, headers={"X-API-Key": api_key}, timeout=5.0)
            if response.status_code in (200, 404):
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"no lookup answered by {target}; see {logs}")
        time.sleep(0.2)
