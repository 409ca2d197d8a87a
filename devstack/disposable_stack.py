"""A disposable request path for tests and benchmarks: store, responders and gateways.

:class:`ProcessStack` starts the product's processes as an operator would (the ``journeys``
command, one process each) on free 127.0.0.1 ports, against a broker it does not run, with
Kafka topics and a consumer group of its own, so several stacks can share one broker; every
process it started is stopped by :meth:`ProcessStack.close`, newest first. The end-to-end,
chaos and browser tests build theirs in ``tests/support/stack_fixtures.py``, the request-path
benchmarks in ``bench/bench_stack.py``. ``journeys up`` (:mod:`devstack.embedded_stack`) is the
long-lived stack: fixed ports, a data directory, crashed children restarted.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, Protocol, TypeVar

import httpx

from devstack.child_process import ChildProcess
from devstack.processes import free_port, journeys_command, port_open
from devstack.supervisor import http_ok
from store import JourneyStore, generate_journeys, open_store

HOST = "127.0.0.1"


class KafkaEndpoint(Protocol):
    """Where the stack's processes find Kafka (a local broker, or the tests' view of one)."""

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` for Kafka clients."""


class StoreDatabase(Protocol):
    """A store the stack does not run itself (a PostgreSQL database): its URLs and tokens."""

    tokens: dict[str, str]

    def url_for(self, role: str) -> str:
        """The store URL of ``role``."""


BrokerT = TypeVar("BrokerT", bound=KafkaEndpoint)


@dataclass
class Gateway:
    url: str
    process: ChildProcess

    @property
    def metrics_url(self) -> str:
        return f"{self.url}/metrics"


@dataclass
class Responder:
    metrics_url: str
    process: ChildProcess


def _new_tokens() -> dict[str, str]:
    return {role: secrets.token_urlsafe(18) for role in ("reader", "writer", "offloader", "admin")}


@dataclass
class ProcessStack(Generic[BrokerT]):
    """Starts the request path's processes in ``work_dir`` (their logs, the DuckDB file) and
    stops them all in :meth:`close`. With ``postgres`` the store is that database instead of
    a store server process of its own."""

    broker: BrokerT
    work_dir: Path
    partitions: int = 4
    postgres: StoreDatabase | None = None
    ready_timeout_s: float = 180.0  # a loaded 2-core machine can take 30 s to import a process
    suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    api_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    tokens: dict[str, str] = field(default_factory=_new_tokens)
    store_port: int = field(default_factory=free_port)
    store_metrics_port: int = field(default_factory=free_port)
    processes: list[ChildProcess] = field(default_factory=list)

    @property
    def store_url(self) -> str:
        """The reader's store URL (what the responder uses)."""
        return self.store_url_for("reader")

    def store_url_for(self, role: str) -> str:
        if self.postgres is not None:
            return self.postgres.url_for(role)
        return f"grpc://{HOST}:{self.store_port}"

    def store_token(self, role: str) -> str:
        return self.postgres.tokens[role] if self.postgres is not None else self.tokens[role]

    @property
    def store_metrics_url(self) -> str:
        return f"http://{HOST}:{self.store_metrics_port}/metrics"

    @property
    def requests_topic(self) -> str:
        return f"e2e.requests.{self.suffix}"

    @property
    def replies_topic(self) -> str:
        return f"e2e.replies.{self.suffix}"

    @property
    def dlq_topic(self) -> str:
        return f"e2e.requests.dlq.{self.suffix}"

    def kafka_env(self) -> dict[str, str]:
        """The JOURNEYS_KAFKA_* environment of the stack's gateways and responders."""
        return {
            "JOURNEYS_KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap_servers,
            "JOURNEYS_KAFKA_REQUESTS_TOPIC": self.requests_topic,
            "JOURNEYS_KAFKA_REPLIES_TOPIC": self.replies_topic,
            "JOURNEYS_KAFKA_DLQ_TOPIC": self.dlq_topic,
            "JOURNEYS_KAFKA_PARTITIONS": str(self.partitions),
        }

    def start_process(self, process: ChildProcess) -> ChildProcess:
        """Start ``process`` (waiting until ready); :meth:`close` stops it with the others."""
        self.processes.append(process)
        return process.start()

    def _child(
        self, name: str, argv: list[str], env: dict[str, str], probe_url: str
    ) -> ChildProcess:
        return ChildProcess(
            name,
            argv,
            self.work_dir / f"{name}.log",
            env=env,
            ready=http_ok(probe_url),
            ready_timeout_s=self.ready_timeout_s,
        )

    def start_store(self) -> ChildProcess:
        """The store server on its (fixed for this stack) port, so it can be restarted."""
        argv = journeys_command(
            "store", "serve", "--db", str(self.work_dir / "store.duckdb"),
            "--host", HOST, "--port", str(self.store_port),
        )  # fmt: skip
        env = {f"JOURNEYS_STORE_{role.upper()}_TOKENS": t for role, t in self.tokens.items()}
        env["JOURNEYS_STORE_METRICS_PORT"] = str(self.store_metrics_port)
        port = self.store_port
        return self.start_process(
            ChildProcess(
                "store",
                argv,
                self.work_dir / "store.log",
                env=env,
                ready=lambda: port_open(port, HOST),
                ready_timeout_s=self.ready_timeout_s,
            )
        )

    def store_client(self, role: str = "reader") -> JourneyStore:
        """A client of the stack's store as ``role`` (close it, or use it as a context manager)."""
        return open_store(self.store_url_for(role), self.store_token(role), timeout=30.0)

    def seed(self, customers: int, *, rng_seed: int = 7) -> None:
        """Demo journeys of ``customers`` customers into the store."""
        with self.store_client("writer") as client:
            for batch in generate_journeys(customers, seed=rng_seed):
                client.upsert(batch)

    def start_path(self, customers: int, **gateway_env: str) -> tuple[Responder, Gateway]:
        """The request path: a store seeded with ``customers``, a responder and a gateway."""
        if self.postgres is None:
            self.start_store()
        self.seed(customers)
        return self.start_responder(), self.start_gateway("gateway", 0, **gateway_env)

    def start_responder(self, name: str = "responder", **env: str) -> Responder:
        """A responder of the stack's consumer group; ready once it serves /metrics."""
        port = free_port()
        environment = {
            **self.kafka_env(),
            "JOURNEYS_RESPONDER_STORE__URL": self.store_url,
            "JOURNEYS_RESPONDER_STORE__TOKEN": self.store_token("reader"),
            "JOURNEYS_RESPONDER_METRICS_PORT": str(port),
            "JOURNEYS_RESPONDER_GROUP_ID": f"e2e-{self.suffix}",
            **env,
        }
        metrics = f"http://{HOST}:{port}/metrics"
        argv = journeys_command("responder", "run")
        return Responder(metrics, self.start_process(self._child(name, argv, environment, metrics)))

    def start_gateway(self, name: str = "gateway", reply_partition: int = 0, **env: str) -> Gateway:
        """A gateway on a free port."""
        return self.start_gateway_on(free_port(), name, reply_partition, env)

    def start_gateway_on(
        self, port: int, name: str, reply_partition: int, env: dict[str, str]
    ) -> Gateway:
        """A gateway on ``port`` (pass a stopped gateway's port to restart it in place)."""
        environment = {
            **self.kafka_env(),
            "JOURNEYS_GATEWAY_HOST": HOST,
            "JOURNEYS_GATEWAY_PORT": str(port),
            "JOURNEYS_GATEWAY_API_KEYS": self.api_key,
            "JOURNEYS_GATEWAY_REPLY_PARTITION": str(reply_partition),
            **env,
        }
        url = f"http://{HOST}:{port}"
        argv = journeys_command("gateway", "serve")
        return Gateway(
            url, self.start_process(self._child(name, argv, environment, f"{url}/readyz"))
        )

    def http(self, gateway: Gateway, timeout: float = 10.0) -> httpx.Client:
        """An HTTP client of ``gateway`` that sends the stack's API key."""
        return httpx.Client(
            base_url=gateway.url, headers={"X-API-Key": self.api_key}, timeout=timeout
        )

    def close(self) -> None:
        """Stop every process this stack started, newest first."""
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()
