"""The whole product on one machine: broker, store (with demo data), responder, gateway.

``journeys up`` builds an :class:`EmbeddedStack` from :class:`StackSettings` and runs it. Each
piece is a separate process on 127.0.0.1, started in dependency order and checked for
readiness; the last check is a real lookup through gateway → Kafka → responder → store, so
"ready" means the printed ``curl`` works. Secrets (store tokens, the demo API key) are made
once and kept in ``<data_dir>/stack.json``, next to the store's database, so a second
``journeys up`` keeps both the data and the credentials.

Any piece can point elsewhere: ``--kafka`` uses an external Kafka instead of starting the
embedded broker, ``--store-url`` (with ``--store-token``) an external store (any backend).
``--store postgres`` runs a private PostgreSQL cluster in ``<data_dir>/pg`` instead of the
DuckDB store server (docs/store-backends.md); the rest of the stack is the same.
"""

from __future__ import annotations

import json
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from aiokafka.errors import KafkaError
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from devstack.broker_restart import recreate_topics, restart_broker
from devstack.child_process import ChildProcess
from devstack.errors import PortInUse, StackError
from devstack.local_airflow import LocalAirflow, StoreConnection
from devstack.local_broker import BrokerChoice, BrokerKind, choose_broker
from devstack.postgres_cluster import LocalCluster
from devstack.processes import free_port, journeys_command, port_open
from devstack.supervisor import OnRestart, Supervised, Supervisor, http_ok, relaunch
from devstack.tansu_recycler import DEFAULT_MAX_MESSAGES, TansuRecycler
from journeys.kafka import KafkaSettings
from journeys.kafka.errors import BrokerError

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
    broker: BrokerKind = "auto"
    external_kafka: str | None = None
    external_store_url: str | None = None
    external_store_token: str | None = None
    #: The store started locally: the DuckDB store server or a private PostgreSQL cluster.
    store: Literal["duckdb", "postgres"] = "duckdb"
    ready_timeout_s: float = 90.0
    #: Tansu fallback only: restart the broker once a partition holds this many messages
    #: (devstack/tansu_recycler.py); 0 never restarts it.
    tansu_restart_messages: int = Field(default=DEFAULT_MAX_MESSAGES, ge=0)
    #: Also run Airflow 3 (``airflow standalone``) with the offload DAGs, on ``airflow_port``.
    airflow: bool = False
    airflow_port: int = 8080
    airflow_ready_timeout_s: float = 300.0


def free_up_ports() -> dict[str, int]:
    """A free 127.0.0.1 port for every port option of ``journeys up``, by option name.

    One option per ``*_port`` field of :class:`StackSettings` (``gateway-port`` …): what the
    tests and the soak pass to run a whole stack beside other ones.
    """
    fields = [name for name in StackSettings.model_fields if name.endswith("_port")]
    return {name.replace("_", "-"): free_port() for name in fields}


class StackSecrets(BaseModel):
    """Credentials of the local stack, made once per data directory."""

    reader_token: str
    writer_token: str
    offloader_token: str
    admin_token: str
    api_key: str
    #: Airflow's ``admin`` login and its JWT signing key (``journeys up --airflow``); made on
    #: the first start that lacks them, so older data directories keep their other secrets.
    airflow_password: str = Field(default_factory=lambda: secrets.token_urlsafe(12))
    airflow_jwt_secret: str = Field(default_factory=lambda: secrets.token_urlsafe(32))

    @classmethod
    def load_or_create(cls, path: Path) -> StackSecrets:
        """Read ``path``, or make new random secrets and write them there (mode 0600)."""
        if path.exists():
            stored = json.loads(path.read_text())
            loaded = cls.model_validate(stored)
            if set(stored) == set(cls.model_fields):
                return loaded
            made = loaded  # written back with the secrets it lacked
        else:
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
        self.broker: BrokerChoice | None = None
        #: The processes that talk to Kafka (responder, gateway), once started.
        self.kafka_clients: list[ChildProcess] = []
        #: The local Airflow (``--airflow``), once configured.
        self.airflow: LocalAirflow | None = None
        if settings.external_kafka is None:
            self.broker = choose_broker(
                settings.broker,
                settings.broker_port,
                data_dir=self.data_dir / "kafka",
                log_path=self.logs / "broker.log",
            )

    @property
    def kafka_profile(self) -> str:
        """The client profile: ``embedded`` for Tansu, ``apache`` for any Apache Kafka."""
        if self.broker is not None and self.broker.broker.kind == "tansu":
            return "embedded"
        return "apache"

    @property
    def bootstrap_servers(self) -> str:
        return self.settings.external_kafka or f"{HOST}:{self.settings.broker_port}"

    @property
    def store_url(self) -> str:
        """The reader's store URL (what the responder uses)."""
        return self.store_url_for("reader")

    def store_url_for(self, role: str) -> str:
        """The store URL of ``role``: the token says who for Flight, the URL's user for PG."""
        if self.settings.external_store_url:
            return self.settings.external_store_url
        if self.settings.store == "postgres":
            return self._pg_cluster().url(f"journeys_{role}")
        return f"grpc://{HOST}:{self.settings.store_port}"

    def _pg_cluster(self) -> LocalCluster:
        return LocalCluster(
            self.data_dir / "pg", self.settings.store_port, self.secrets.admin_token
        )

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
            wanted["store"] = s.store_port
            if s.store == "duckdb":
                wanted["store metrics"] = s.store_metrics_port
        if s.airflow:
            wanted["Airflow"] = s.airflow_port
        for what, port in wanted.items():
            if not _port_free(port):
                raise PortInUse(what, port)

    def start(self, on_starting: Callable[[str], None] | None = None) -> None:
        """Start every piece in order and wait until a real lookup succeeds."""
        self.check_ports()
        if self.broker is not None:
            self.supervisor.start(self.broker.broker, on_starting)
        if self.settings.external_store_url is None:
            if self.settings.store == "postgres":
                self.supervisor.start(self._postgres(), on_starting)
                self._init_postgres()
            else:
                self.supervisor.start(self._store(), on_starting)
            self._seed_if_empty(on_starting)
        self.kafka_clients = [self._responder(), self._gateway()]
        for client in self.kafka_clients:
            self.supervisor.start(client, on_starting)
        if on_starting is not None:
            on_starting("first lookup through Kafka")
        end_to_end = ChildProcess(
            "end-to-end lookup",
            [],
            self.logs / "gateway.log",
            ready=http_ok(self.urls.journeys_url, {"X-API-Key": self.secrets.api_key}),
            ready_timeout_s=self.settings.ready_timeout_s,
        )
        end_to_end.wait_ready()
        if self.settings.airflow:
            self._start_airflow(on_starting)

    def watch(
        self,
        stop_requested: Callable[[], bool],
        on_restart: Callable[[str], None] | None = None,
        on_crash: OnRestart | None = None,
    ) -> Supervised | None:
        """Block until a stop is requested (None) or a child crashed too often (returns it).

        A crashed child is restarted after a backoff (the supervisor's :class:`RestartPolicy`);
        ``on_crash`` hears about each such restart. On the Tansu fallback the broker is also
        restarted before its retained messages slow it down (see :class:`TansuRecycler`);
        ``on_restart`` hears about each of those.
        """
        recycler = self._tansu_recycler(on_restart)
        tick = None if recycler is None else recycler.tick
        return self.supervisor.watch(
            stop_requested, tick=tick, on_restart=on_crash, restart=self._restart_crashed
        )

    def _restart_crashed(self, child: Supervised) -> None:
        """Bring a crashed child back; the broker (which starts empty) with the Kafka clients
        paused and the topics recreated before they reconnect (:mod:`broker_restart`)."""
        if self.broker is None or child is not self.broker.broker:
            relaunch(child)
            return
        kafka = self._kafka_settings()
        try:
            restart_broker(child, self.kafka_clients, lambda: recreate_topics(kafka))
        except (BrokerError, KafkaError, TimeoutError, OSError) as exc:
            raise StackError(f"cannot restart {child.name}: {exc}") from exc

    def _kafka_settings(self) -> KafkaSettings:
        """The same broker, profile and partitions the children get from _kafka_env()."""
        return KafkaSettings(
            bootstrap_servers=self.bootstrap_servers,
            profile=self.kafka_profile,
            partitions=self.settings.partitions,
        )

    def _tansu_recycler(self, on_restart: Callable[[str], None] | None) -> TansuRecycler | None:
        limit = self.settings.tansu_restart_messages
        if self.broker is None or self.broker.broker.kind != "tansu" or limit == 0:
            return None
        return TansuRecycler(
            self.broker.broker,
            self._kafka_settings(),
            max_messages=limit,
            clients=self.kafka_clients,
            on_restart=on_restart,
        )

    def _kafka_env(self) -> dict[str, str]:
        return {
            "JOURNEYS_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "JOURNEYS_KAFKA_PROFILE": self.kafka_profile,
            "JOURNEYS_KAFKA_PARTITIONS": str(self.settings.partitions),
        }

    def _store(self) -> ChildProcess:
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
        return ChildProcess(
            "store server",
            argv,
            self.logs / "store.log",
            env=env,
            ready=lambda: port_open(port, HOST),
            ready_timeout_s=s.ready_timeout_s,
        )

    def _postgres(self) -> ChildProcess:
        cluster = self._pg_cluster()
        cluster.ensure_initialised()
        port = cluster.port
        return ChildProcess(
            "store (PostgreSQL)",
            cluster.server_argv(),
            self.logs / "postgres.log",
            ready=lambda: port_open(port, HOST),
            ready_timeout_s=self.settings.ready_timeout_s,
        )

    def _init_postgres(self) -> None:
        """Schema and roles (idempotent), with the stack's tokens as the roles' passwords."""
        from store import StoreError, init_store, set_role_passwords

        t, admin_url = self.secrets, self._pg_cluster().url()
        passwords = {"reader": t.reader_token, "writer": t.writer_token,
                     "offloader": t.offloader_token}  # fmt: skip
        try:
            init_store(admin_url, t.admin_token)
            set_role_passwords(admin_url, t.admin_token, passwords)
        except StoreError as exc:
            raise StackError(f"cannot initialise the PostgreSQL store: {exc}") from exc

    def _seed_if_empty(self, on_starting: Callable[[str], None] | None) -> None:
        from store import generate_journeys, open_store

        url = self.store_url_for("writer")
        with open_store(url, self.secrets.writer_token, timeout=30.0) as client:
            stats = client.stats()
            if stats.rows_open + stats.rows_closed > 0:
                return
            if on_starting is not None:
                on_starting(f"demo data ({self.settings.demo_customers} customers)")
            for batch in generate_journeys(self.settings.demo_customers, seed=42):
                client.upsert(batch)

    def _responder(self) -> ChildProcess:
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
        return ChildProcess(
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
        if s.external_store_url is None and s.store == "duckdb":
            urls["store"] = f"http://{HOST}:{s.store_metrics_port}/metrics"
        return urls

    def _gateway(self) -> ChildProcess:
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
        return ChildProcess(
            "gateway",
            journeys_command("gateway", "serve"),
            self.logs / "gateway.log",
            env=env,
            ready=http_ok(f"{self.urls.api}/readyz"),
            ready_timeout_s=s.ready_timeout_s,
        )

    def _start_airflow(self, on_starting: Callable[[str], None] | None) -> None:
        """Migrate, set the connection and variable, then run ``airflow standalone``."""
        if self.settings.external_store_url is not None:
            raise StackError("--airflow runs the offload DAGs against the local store only")
        if on_starting is not None:
            on_starting("Airflow metadata database, connection journeys_store, variable")
        self.airflow = LocalAirflow(
            self.data_dir / "airflow",
            self.settings.airflow_port,
            password=self.secrets.airflow_password,
            jwt_secret=self.secrets.airflow_jwt_secret,
            offload_env={  # what the connection and variable do not say
                "JOURNEYS_OFFLOAD_CATALOG_PATH": str(self.data_dir / "analytics.duckdb"),
                "JOURNEYS_OFFLOAD_METRICS_DIR": str(self.data_dir / "metrics"),
            },
            log_path=self.logs / "airflow.log",
            ready_timeout_s=self.settings.airflow_ready_timeout_s,
        )
        self.airflow.prepare()
        self.airflow.configure(self._store_connection(), str(self.data_dir / "lake"))
        self.supervisor.start(self.airflow.process(), on_starting)

    def _store_connection(self) -> StoreConnection:
        port, token = self.settings.store_port, self.secrets.offloader_token
        if self.settings.store == "postgres":
            from devstack.postgres_cluster import DATABASE

            return StoreConnection(
                "postgres", HOST, port, token, login="journeys_offloader", schema=DATABASE
            )
        return StoreConnection("generic", HOST, port, token)

    def stop(self, on_stopping: Callable[[str], None] | None = None) -> None:
        """Stop every process this stack started, newest first."""
        self.supervisor.stop_all(on_stopping)
