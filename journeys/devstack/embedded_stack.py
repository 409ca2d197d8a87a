"""The whole product on one machine: broker, store (with demo data), responder, gateway.

``journeys up`` builds an :class:`EmbeddedStack` from :class:`StackSettings` and runs it. Each
piece is a separate process on 127.0.0.1, started in dependency order and checked for
readiness; the last check is a real lookup through gateway → Kafka → responder → store, so
"ready" means the printed ``curl`` works. Secrets (store tokens, the demo API key) are made
once and kept in ``<data_dir>/stack.json``, next to the store's database, so a second
``journeys up`` keeps both the data and the credentials.

Any piece can point elsewhere: ``--kafka`` uses an external Kafka instead of starting the
embedded broker, ``--store-url`` (with ``--store-token``) an external store server.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from journeys.devstack.errors import PortInUse
from journeys.devstack.processes import journeys_command, port_open
from journeys.devstack.supervisor import Child, Supervisor, http_ok

DEMO_CUSTOMER = "cust-0000001"
HOST = "127.0.0.1"


class StackSettings(BaseSettings):
    """Where the embedded stack keeps its data and which ports it uses."""

    model_config = SettingsConfigDict(env_prefix="JOURNEYS_UP_", extra="ignore")

    data_dir: Path = Path("data")
    broker_port: int = 9092
    store_port: int = 8815
    store_metrics_port: int = 9102
    responder_metrics_port: int = 9101
    gateway_port: int = 8000
    demo_customers: int = Field(default=1_000, ge=1)
    partitions: int = Field(default=8, ge=1)
    external_kafka: str | None = None
    external_store_url: str | None = None
    external_store_token: str | None = None
    ready_timeout_s: float = 90.0


class StackSecrets(BaseModel):
    """Credentials of the local stack, made once per data directory."""

    reader_token: str
    writer_token: str
    offloader_token: str
    admin_token: str
    api_key: str

    @classmethod
    def load_or_create(cls, path: Path) -> StackSecrets:
        """Read ``path``, or make new random secrets and write them there (mode 0600)."""
        if path.exists():
            return cls.model_validate_json(path.read_text())
        made = cls(**{name: secrets.token_urlsafe(24) for name in cls.model_fields})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(json.dumps(made.model_dump(), indent=2))
        return made


@dataclass(frozen=True)
class StackUrls:
    """What ``journeys up`` prints once everything is ready."""

    api: str
    docs: str
    api_key: str
    demo_customer: str

    @property
    def journeys_url(self) -> str:
        return f"{self.api}/v1/customers/{self.demo_customer}/journeys"

    @property
    def curl(self) -> str:
        return f"curl -s -H 'X-API-Key: {self.api_key}' {self.journeys_url}"


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


class EmbeddedStack:
    """Starts, watches and stops the local stack's processes."""

    def __init__(self, settings: StackSettings, supervisor: Supervisor | None = None) -> None:
        self.settings = settings
        self.supervisor = supervisor or Supervisor()
        self.data_dir = settings.data_dir.resolve()
        self.logs = self.data_dir / "logs"
        self.secrets = StackSecrets.load_or_create(self.data_dir / "stack.json")

    @property
    def bootstrap_servers(self) -> str:
        return self.settings.external_kafka or f"{HOST}:{self.settings.broker_port}"

    @property
    def store_url(self) -> str:
        return self.settings.external_store_url or f"grpc://{HOST}:{self.settings.store_port}"

    @property
    def reader_token(self) -> str:
        return self.settings.external_store_token or self.secrets.reader_token

    @property
    def urls(self) -> StackUrls:
        api = f"http://{HOST}:{self.settings.gateway_port}"
        return StackUrls(api, f"{api}/docs", self.secrets.api_key, DEMO_CUSTOMER)

    def check_ports(self) -> None:
        """Fail early, with the port's name, if something already listens where we will."""
        s = self.settings
        wanted = {"gateway": s.gateway_port, "responder metrics": s.responder_metrics_port}
        if s.external_kafka is None:
            wanted["Kafka broker"] = s.broker_port
        if s.external_store_url is None:
            wanted |= {"store": s.store_port, "store metrics": s.store_metrics_port}
        for what, port in wanted.items():
            if not _port_free(port):
                raise PortInUse(what, port)

    def start(self, on_starting: Callable[[str], None] | None = None) -> None:
        """Start every piece in order and wait until a real lookup succeeds."""
        self.check_ports()
        if self.settings.external_kafka is None:
            self.supervisor.start(self._broker(), on_starting)
        if self.settings.external_store_url is None:
            self.supervisor.start(self._store(), on_starting)
            self._seed_if_empty(on_starting)
        self.supervisor.start(self._responder(), on_starting)
        self.supervisor.start(self._gateway(), on_starting)
        if on_starting is not None:
            on_starting("first lookup through Kafka")
        end_to_end = Child("end-to-end lookup", [], self.logs / "gateway.log")
        end_to_end.ready = http_ok(self.urls.journeys_url, {"X-API-Key": self.secrets.api_key})
        end_to_end.ready_timeout_s = self.settings.ready_timeout_s
        end_to_end.wait_ready()

    def _kafka_env(self) -> dict[str, str]:
        return {
            "JOURNEYS_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "JOURNEYS_KAFKA_PROFILE": "apache" if self.settings.external_kafka else "embedded",
            "JOURNEYS_KAFKA_PARTITIONS": str(self.settings.partitions),
        }

    def _broker(self) -> Child:
        from journeys.devstack.embedded_broker import EmbeddedBroker

        port = self.settings.broker_port
        broker = Child(
            "kafka broker (tansu)",
            EmbeddedBroker(port, HOST).argv(),
            self.logs / "broker.log",
            ready=lambda: port_open(port, HOST),
            ready_timeout_s=self.settings.ready_timeout_s,
        )
        broker.after_restart = lambda: self._recreate_topics(broker)
        return broker

    def _recreate_topics(self, broker: Child) -> None:
        """The embedded broker keeps topics in memory: after its restart, create them again."""
        from journeys.kafka import KafkaSettings, ensure_topics

        broker.wait_ready()
        settings = KafkaSettings(
            bootstrap_servers=self.bootstrap_servers, partitions=self.settings.partitions
        )
        asyncio.run(ensure_topics(settings))

    def _store(self) -> Child:
        s, t = self.settings, self.secrets
        argv = journeys_command("store", "serve", "--db", str(self.data_dir / "journeys.duckdb"))
        argv += ["--host", HOST, "--port", str(s.store_port)]
        env = {
            "JOURNEYS_STORE_READER_TOKENS": t.reader_token,
            "JOURNEYS_STORE_WRITER_TOKENS": t.writer_token,
            "JOURNEYS_STORE_OFFLOADER_TOKENS": t.offloader_token,
            "JOURNEYS_STORE_ADMIN_TOKENS": t.admin_token,
            "JOURNEYS_STORE_METRICS_PORT": str(s.store_metrics_port),
        }
        port = s.store_port
        return Child(
            "store server",
            argv,
            self.logs / "store.log",
            env=env,
            ready=lambda: port_open(port, HOST),
            ready_timeout_s=s.ready_timeout_s,
        )

    def _seed_if_empty(self, on_starting: Callable[[str], None] | None) -> None:
        from store import StoreClient, generate_journeys

        with StoreClient(self.store_url, self.secrets.writer_token, timeout=30.0) as client:
            stats = client.stats()
            if stats.rows_open + stats.rows_closed > 0:
                return
            if on_starting is not None:
                on_starting(f"demo data ({self.settings.demo_customers} customers)")
            for batch in generate_journeys(self.settings.demo_customers, seed=42):
                client.upsert(batch)

    def _responder(self) -> Child:
        s = self.settings
        env = {
            **self._kafka_env(),
            "JOURNEYS_RESPONDER_STORE__URL": self.store_url,
            "JOURNEYS_RESPONDER_STORE__TOKEN": self.reader_token,
            "JOURNEYS_RESPONDER_METRICS_PORT": str(s.responder_metrics_port),
            # Static membership: a restarted responder takes its partitions back at once.
            "JOURNEYS_RESPONDER_GROUP_INSTANCE_ID": "responder-0",
        }
        metrics = f"http://{HOST}:{s.responder_metrics_port}/metrics"
        return Child(
            "responder",
            journeys_command("responder", "run"),
            self.logs / "responder.log",
            env=env,
            ready=http_ok(metrics),
            ready_timeout_s=s.ready_timeout_s,
        )

    def _metrics_urls(self) -> dict[str, str]:
        """The /metrics the ops page reads (an external store's is not known here)."""
        s = self.settings
        urls = {"responder": f"http://{HOST}:{s.responder_metrics_port}/metrics"}
        if s.external_store_url is None:
            urls["store"] = f"http://{HOST}:{s.store_metrics_port}/metrics"
        return urls

    def _gateway(self) -> Child:
        s = self.settings
        env = {
            **self._kafka_env(),
            "JOURNEYS_GATEWAY_HOST": HOST,
            "JOURNEYS_GATEWAY_PORT": str(s.gateway_port),
            "JOURNEYS_GATEWAY_API_KEYS": self.secrets.api_key,
            "JOURNEYS_GATEWAY_REPLY_PARTITION": "0",
            # The demo and ops pages (docs/demo-and-ops.md); the demo key is pre-filled there.
            "JOURNEYS_GATEWAY_DEMO_PAGES": "true",
            "JOURNEYS_GATEWAY_DEMO_API_KEY": self.secrets.api_key,
            "JOURNEYS_GATEWAY_OPS_PEERS": json.dumps(self._metrics_urls()),
        }
        return Child(
            "gateway",
            journeys_command("gateway", "serve"),
            self.logs / "gateway.log",
            env=env,
            ready=http_ok(f"{self.urls.api}/readyz"),
            ready_timeout_s=s.ready_timeout_s,
        )

    def stop(self, on_stopping: Callable[[str], None] | None = None) -> None:
        """Stop every process this stack started, newest first."""
        self.supervisor.stop_all(on_stopping)
