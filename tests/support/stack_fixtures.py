"""Fixtures: the request path as real, separate processes for end-to-end tests.

``process_stack``  function-scoped builder: a store server, responders and gateways started
                   as ``journeys …`` subprocesses against the session's broker, with
                   topics unique to the test; everything it started is stopped afterwards.
``shared_stack``   one store + responder + gateway for a test module, seeded with demo data,
                   for tests that only send requests; parametrized over the store backends
                   (the DuckDB store server, a database in the session's PostgreSQL cluster).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from store import JourneyStore, StoreClient, open_store
from store.demo_data import generate_journeys
from tests.support.child_env import http_ok
from tests.support.kafka_fixtures import KafkaBroker
from tests.support.postgres_fixtures import PostgresStoreServer, create_store_database
from tests.support.processes import ChildProcess, free_port, journeys_command, port_open

PARTITIONS = 4


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


@dataclass
class ProcessStack:
    """Starts the product's processes for one test and stops them all in ``close``."""

    broker: KafkaBroker
    work_dir: Path
    suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    api_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    tokens: dict[str, str] = field(
        default_factory=lambda: {
            role: secrets.token_urlsafe(18) for role in ("reader", "writer", "offloader", "admin")
        }
    )
    store_port: int = field(default_factory=free_port)
    store_metrics_port: int = field(default_factory=free_port)
    processes: list[ChildProcess] = field(default_factory=list)
    #: The store is this PostgreSQL database instead of a store server process.
    postgres: PostgresStoreServer | None = None

    @property
    def store_url(self) -> str:
        """The reader's store URL (what the responder uses)."""
        return self.store_url_for("reader")

    def store_url_for(self, role: str) -> str:
        if self.postgres is not None:
            return self.postgres.url_for(role)
        return f"grpc://127.0.0.1:{self.store_port}"

    def store_token(self, role: str) -> str:
        return self.postgres.tokens[role] if self.postgres is not None else self.tokens[role]

    @property
    def store_metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.store_metrics_port}/metrics"

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
        return {
            "JOURNEYS_KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap_servers,
            "JOURNEYS_KAFKA_REQUESTS_TOPIC": self.requests_topic,
            "JOURNEYS_KAFKA_REPLIES_TOPIC": self.replies_topic,
            "JOURNEYS_KAFKA_DLQ_TOPIC": self.dlq_topic,
            "JOURNEYS_KAFKA_PARTITIONS": str(PARTITIONS),
        }

    def _start(self, process: ChildProcess) -> ChildProcess:
        self.processes.append(process)
        return process.start()

    def start_store(self) -> ChildProcess:
        """The store server on its (fixed for this stack) port, so it can be restarted."""
        argv = journeys_command(
            "store", "serve", "--db", str(self.work_dir / "store.duckdb"),
            "--host", "127.0.0.1", "--port", str(self.store_port),
        )  # fmt: skip
        env = {f"JOURNEYS_STORE_{role.upper()}_TOKENS": t for role, t in self.tokens.items()}
        env["JOURNEYS_STORE_METRICS_PORT"] = str(self.store_metrics_port)
        port = self.store_port
        return self._start(
            ChildProcess(
                "store",
                argv,
                self.work_dir / "store.log",
                env=env,
                ready=lambda: port_open(port),
                ready_timeout_s=90,  # a loaded 2-core CI machine can take 30 s to import it
            )
        )

    def store_client(self, role: str = "reader") -> JourneyStore:
        if self.postgres is not None:
            return open_store(self.store_url_for(role), self.store_token(role), timeout=30.0)
        return StoreClient(self.store_url, self.tokens[role], timeout=30.0)

    def seed(self, customers: int) -> None:
        with self.store_client("writer") as client:
            for batch in generate_journeys(customers, seed=7):
                client.upsert(batch)

    def start_path(self, customers: int, **gateway_env: str) -> tuple[Responder, Gateway]:
        """The request path: a store seeded with ``customers``, a responder and a gateway."""
        if self.postgres is None:
            self.start_store()
        self.seed(customers)
        return self.start_responder(), self.start_gateway("gateway", 0, **gateway_env)

    def start_responder(self, name: str = "responder", **env: str) -> Responder:
        port = free_port()
        environment = {
            **self.kafka_env(),
            "JOURNEYS_RESPONDER_STORE__URL": self.store_url,
            "JOURNEYS_RESPONDER_STORE__TOKEN": self.store_token("reader"),
            "JOURNEYS_RESPONDER_METRICS_PORT": str(port),
            "JOURNEYS_RESPONDER_GROUP_ID": f"e2e-{self.suffix}",
            **env,
        }
        metrics = f"http://127.0.0.1:{port}/metrics"
        process = ChildProcess(
            name,
            journeys_command("responder", "run"),
            self.work_dir / f"{name}.log",
            env=environment,
            ready=lambda: http_ok(metrics),
            ready_timeout_s=180,
        )
        return Responder(metrics, self._start(process))

    def start_gateway(self, name: str = "gateway", reply_partition: int = 0, **env: str) -> Gateway:
        """A gateway on a free port."""
        return self.start_gateway_on(free_port(), name, reply_partition, env)

    def start_gateway_on(
        self, port: int, name: str, reply_partition: int, env: dict[str, str]
    ) -> Gateway:
        """A gateway on ``port`` (pass a stopped gateway's port to restart it in place)."""
        environment = {
            **self.kafka_env(),
            "JOURNEYS_GATEWAY_HOST": "127.0.0.1",
            "JOURNEYS_GATEWAY_PORT": str(port),
            "JOURNEYS_GATEWAY_API_KEYS": self.api_key,
            "JOURNEYS_GATEWAY_REPLY_PARTITION": str(reply_partition),
            **env,
        }
        url = f"http://127.0.0.1:{port}"
        process = ChildProcess(
            name,
            journeys_command("gateway", "serve"),
            self.work_dir / f"{name}.log",
            env=environment,
            ready=lambda: http_ok(f"{url}/readyz"),
            ready_timeout_s=180,
        )
        return Gateway(url, self._start(process))

    def http(self, gateway: Gateway, timeout: float = 10.0) -> httpx.Client:
        return httpx.Client(
            base_url=gateway.url, headers={"X-API-Key": self.api_key}, timeout=timeout
        )

    def close(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()


@pytest.fixture
def process_stack(kafka_broker: KafkaBroker, tmp_path: Path) -> Iterator[ProcessStack]:
    """A fresh set of topics and a builder of real processes; all stopped after the test."""
    stack = ProcessStack(kafka_broker, tmp_path)
    try:
        yield stack
    finally:
        stack.close()


@dataclass(frozen=True)
class SharedStack:
    stack: ProcessStack
    gateway: Gateway
    responder: Responder


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def shared_stack(
    request: pytest.FixtureRequest,
    kafka_broker: KafkaBroker,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SharedStack]:
    """Store (200 demo customers), one responder and one gateway, shared by a test module;
    once on each store backend."""
    postgres = None
    if request.param == "postgres":
        cluster = request.getfixturevalue("postgres_cluster")
        postgres = create_store_database(cluster, request.getfixturevalue("postgres_tokens"))
    stack = ProcessStack(kafka_broker, tmp_path_factory.mktemp("stack"), postgres=postgres)
    try:
        responder, gateway = stack.start_path(200)
        yield SharedStack(stack, gateway, responder)
    finally:
        stack.close()
