"""The processes the end-to-end benchmark measures, started on free ports and always stopped.

Broker (Apache Kafka when a JDK and its jars are found, else Tansu; ``StackConfig.broker``
chooses), store (``StackConfig.store``: the DuckDB store server, or a private PostgreSQL
cluster in ``<work_dir>/pg`` as ``journeys up --store postgres`` runs it; seeded with demo
journeys), ``responders`` responders, ``gateways`` gateways (gateway ``i`` owns reply
partition ``i``) and the baseline (bench/direct_app.py): each is the real command, as
``journeys up`` runs it, with its output in ``<work_dir>/logs``. ``extra_env`` reaches the
gateways and responders, which is how the benchmark tries other Kafka/responder settings
without editing code.
"""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx

from devstack import ApacheKafkaBroker, ChildProcess, Supervisor, choose_broker, http_ok
from devstack.local_broker import BrokerKind
from devstack.postgres_cluster import LocalCluster

# free_port is re-exported: bench/store_bench.py and store_cache_bench.py import it from here.
from devstack.processes import free_port as free_port
from devstack.processes import journeys_command, port_open
from store import StoreError, generate_journeys, init_store, open_store, set_role_passwords

HOST = "127.0.0.1"
BENCH_DIR = Path(__file__).resolve().parent


@dataclass
class StackConfig:
    """What to start."""

    work_dir: Path
    customers: int = 50_000
    responders: int = 1
    gateways: int = 1
    partitions: int = 8
    broker: BrokerKind = "auto"
    store: Literal["duckdb", "postgres"] = "duckdb"
    extra_env: dict[str, str] = field(default_factory=dict)
    ready_timeout_s: float = 90.0


class BenchStack:
    """Starts the stack in dependency order; ``stop()`` stops every process it started."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.logs = config.work_dir / "logs"
        self.api_key = secrets.token_urlsafe(24)
        self.tokens = {r: secrets.token_urlsafe(24) for r in ("reader", "writer", "admin")}
        self.supervisor = Supervisor(grace_s=10.0)
        self.broker = choose_broker(config.broker, log_path=self.logs / "broker.log").broker
        self.store_port = free_port()
        self.gateway_ports = [free_port() for _ in range(config.gateways)]
        self.direct_port = free_port()
        self.pids: dict[str, int] = {}

    @property
    def pg_cluster(self) -> LocalCluster:
        """The PostgreSQL cluster of ``store="postgres"`` (admin password: the admin token)."""
        return LocalCluster(self.config.work_dir / "pg", self.store_port, self.tokens["admin"])

    @property
    def store_url(self) -> str:
        """The reader's store URL."""
        return self.store_url_for("reader")

    def store_url_for(self, role: str) -> str:
        """The store URL ``role`` uses (with PostgreSQL, its login role is the URL's user)."""
        if self.config.store == "postgres":
            return self.pg_cluster.url("journeys_admin" if role == "admin" else f"journeys_{role}")
        return f"grpc://{HOST}:{self.store_port}"

    @property
    def gateway_targets(self) -> list[str]:
        return [f"{HOST}:{port}" for port in self.gateway_ports]

    @property
    def direct_target(self) -> str:
        return f"{HOST}:{self.direct_port}"

    def start(self, say: Callable[[str], None]) -> None:
        """Start everything and wait until a lookup answers on every gateway."""
        say(self.broker.name)
        self.broker.start()
        assert self.broker.pid is not None
        self.pids["broker"] = self.broker.pid
        self._start("store", self._store())
        say(f"seeding {self.config.customers:,} customers")
        started = time.monotonic()
        with open_store(
            self.store_url_for("writer"), self.tokens["writer"], timeout=60.0, bulk_timeout=600.0
        ) as client:
            for batch in generate_journeys(self.config.customers, seed=42):
                client.upsert(batch)
        say(f"seeded in {time.monotonic() - started:.1f}s")
        for i in range(self.config.responders):
            self._start(f"responder-{i}", self._responder(i))
        for i in range(self.config.gateways):
            self._start(f"gateway-{i}", self._gateway(i))
        self._start("direct", self._direct())
        say("first lookups through Kafka")
        for target in [*self.gateway_targets, self.direct_target]:
            self._wait_for_lookup(target)

    def broker_info(self) -> dict[str, str]:
        """The broker's kind, version and a label for tables (``Apache Kafka 4.1.1``): for
        Apache Kafka the version the running broker logged, else its jars' version."""
        if isinstance(self.broker, ApacheKafkaBroker):
            version = self.broker.reported_version() or self.broker.version
            return {"kind": "apache", "version": version, "label": f"Apache Kafka {version}"}
        version = self.broker.version
        return {"kind": "tansu", "version": version, "label": f"Tansu {version}"}

    def _start(self, name: str, child: ChildProcess) -> None:
        self.supervisor.start(child)
        assert child.pid is not None
        self.pids[name] = child.pid

    def _wait_for_lookup(self, target: str) -> None:
        url = f"http://{target}/v1/customers/cust-0000001/journeys"
        deadline = time.monotonic() + self.config.ready_timeout_s
        while True:
            try:
                response = httpx.get(url, headers={"X-API-Key": self.api_key}, timeout=5.0)
                if response.status_code in (200, 404):
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"no lookup answered by {target}; see {self.logs}")
            time.sleep(0.2)

    def _kafka_env(self) -> dict[str, str]:
        return {
            "JOURNEYS_KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap_servers,
            "JOURNEYS_KAFKA_PROFILE": "apache" if self.broker.kind == "apache" else "embedded",
            "JOURNEYS_KAFKA_PARTITIONS": str(self.config.partitions),
        }

    def _child(
        self, name: str, argv: list[str], env: dict[str, str], ready: Callable[[], bool]
    ) -> ChildProcess:
        return ChildProcess(
            name,
            argv,
            self.logs / f"{name}.log",
            env=env,
            ready=ready,
            ready_timeout_s=self.config.ready_timeout_s,
        )

    def _store(self) -> ChildProcess:
        if self.config.store == "postgres":
            return self._postgres()
        argv = journeys_command(
            "store", "serve", "--db", str(self.config.work_dir / "bench.duckdb")
        )
        argv += ["--host", HOST, "--port", str(self.store_port)]
        env = {f"JOURNEYS_STORE_{role.upper()}_TOKENS": t for role, t in self.tokens.items()}
        port = self.store_port
        return self._child("store", argv, env, lambda: port_open(port, HOST))

    def _postgres(self) -> ChildProcess:
        cluster = self.pg_cluster
        cluster.ensure_initialised()
        port = self.store_port

        def ready() -> bool:
            if not port_open(port, HOST):
                return False
            admin = cluster.url()
            passwords = {role: self.tokens[role] for role in ("reader", "writer")}
            try:  # schema and roles, once the server accepts connections
                init_store(admin, self.tokens["admin"])
                set_role_passwords(admin, self.tokens["admin"], passwords)
            except StoreError:
                return False
            return True

        return self._child("store", cluster.server_argv(), {}, ready)

    def _responder(self, i: int) -> ChildProcess:
        metrics_port = free_port()
        env = {
            **self._kafka_env(),
            "JOURNEYS_RESPONDER_STORE__URL": self.store_url_for("reader"),
            "JOURNEYS_RESPONDER_STORE__TOKEN": self.tokens["reader"],
            "JOURNEYS_RESPONDER_METRICS_PORT": str(metrics_port),
            "JOURNEYS_RESPONDER_LOG_LEVEL": "warning",
            **self.config.extra_env,
        }
        metrics = f"http://{HOST}:{metrics_port}/metrics"
        return self._child(
            f"responder-{i}", journeys_command("responder", "run"), env, http_ok(metrics)
        )

    def _gateway(self, i: int) -> ChildProcess:
        port = self.gateway_ports[i]
        env = {
            **self._kafka_env(),
            "JOURNEYS_GATEWAY_HOST": HOST,
            "JOURNEYS_GATEWAY_PORT": str(port),
            "JOURNEYS_GATEWAY_API_KEYS": self.api_key,
            "JOURNEYS_GATEWAY_REPLY_PARTITION": str(i),
            "JOURNEYS_GATEWAY_LOG_LEVEL": "warning",
            **self.config.extra_env,
        }
        ready = http_ok(f"http://{HOST}:{port}/readyz")
        return self._child(f"gateway-{i}", journeys_command("gateway", "serve"), env, ready)

    def _direct(self) -> ChildProcess:
        env = {
            "BENCH_DIRECT_HOST": HOST,
            "BENCH_DIRECT_PORT": str(self.direct_port),
            "BENCH_DIRECT_STORE_URL": self.store_url_for("reader"),
            "BENCH_DIRECT_STORE_TOKEN": self.tokens["reader"],
            "BENCH_DIRECT_API_KEY": self.api_key,
        }
        argv = [sys.executable, str(BENCH_DIR / "direct_app.py")]
        ready = http_ok(f"http://{HOST}:{self.direct_port}/readyz")
        return self._child("direct", argv, env, ready)

    def stop(self) -> None:
        """Stop every started process, newest first, then the broker."""
        try:
            self.supervisor.stop_all()
        finally:
            self.broker.stop()
