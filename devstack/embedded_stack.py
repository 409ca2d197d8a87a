"""The whole product on one machine: broker, store (with demo data), responder, gateway.

``journeys up`` builds an :class:`EmbeddedStack` from :class:`StackSettings` and runs it. Each
piece is a separate process on 127.0.0.1 (built by :class:`StackProcesses`), started in
dependency order and checked for readiness; the last check is a real lookup through gateway →
Kafka → responder → store, so "ready" means the printed ``curl`` works. A crashed piece is
restarted by the :class:`Supervisor`; the broker (which starts empty) with the Kafka clients
paused and the topics recreated (:mod:`devstack.broker_restart`).

Any piece can point elsewhere: ``--kafka`` uses an external Kafka instead of starting the local
Apache Kafka broker, ``--store-url`` (with ``--store-token``) an external store (any backend).
``--store postgres`` runs a private PostgreSQL cluster in ``<data_dir>/pg`` instead of the
DuckDB store server (docs/store-backends.md); the rest of the stack is the same.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

from aiokafka.errors import KafkaError

from devstack.apache_kafka import ApacheKafkaBroker, local_kafka
from devstack.broker_restart import recreate_topics, restart_broker
from devstack.child_process import ChildProcess
from devstack.errors import PortInUse, StackError
from devstack.local_airflow import LocalAirflow, StoreConnection
from devstack.postgres_cluster import LocalCluster
from devstack.stack_processes import StackProcesses
from devstack.stack_settings import DEMO_CUSTOMER, HOST, StackSecrets, StackSettings, StackUrls
from devstack.supervisor import OnRestart, Supervised, Supervisor, http_ok, relaunch
from journeys.kafka import KafkaSettings
from journeys.kafka.errors import BrokerError


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
        #: The local Apache Kafka broker; None with ``--kafka`` (an external cluster).
        self.broker: ApacheKafkaBroker | None = None
        #: The processes that talk to Kafka (responder, gateway), once started.
        self.kafka_clients: list[ChildProcess] = []
        #: The local Airflow (``--airflow``), once configured.
        self.airflow: LocalAirflow | None = None
        if settings.external_kafka is None:
            self.broker = local_kafka(
                settings.broker_port,
                data_dir=self.data_dir / "kafka",
                log_path=self.logs / "broker.log",
            )
        self.processes = StackProcesses(
            settings, self.secrets, self.data_dir, self.bootstrap_servers
        )

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
            self.supervisor.start(self.broker, on_starting)
        if self.settings.external_store_url is None:
            if self.settings.store == "postgres":
                self.supervisor.start(self.processes.postgres(self._pg_cluster()), on_starting)
                self._init_postgres()
            else:
                self.supervisor.start(self.processes.store_server(), on_starting)
            self._seed_if_empty(on_starting)
        self.kafka_clients = [
            self.processes.responder(self.store_url, self.reader_token),
            self.processes.gateway(self.urls.api),
        ]
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
        on_crash: OnRestart | None = None,
    ) -> Supervised | None:
        """Block until a stop is requested (None) or a child crashed too often (returns it).

        A crashed child is restarted after a backoff (the supervisor's :class:`RestartPolicy`);
        ``on_crash`` hears about each such restart.
        """
        return self.supervisor.watch(
            stop_requested, on_restart=on_crash, restart=self._restart_crashed
        )

    def _restart_crashed(self, child: Supervised) -> None:
        """Bring a crashed child back; the broker (which starts empty) with the Kafka clients
        paused and the topics recreated before they reconnect (:mod:`broker_restart`)."""
        if self.broker is None or child is not self.broker:
            relaunch(child)
            return
        kafka = self._kafka_settings()
        try:
            restart_broker(child, self.kafka_clients, lambda: recreate_topics(kafka))
        except (BrokerError, KafkaError, TimeoutError, OSError) as exc:
            raise StackError(f"cannot restart {child.name}: {exc}") from exc

    def _kafka_settings(self) -> KafkaSettings:
        """The same broker and partitions the children get from ``processes.kafka_env()``."""
        return KafkaSettings(
            bootstrap_servers=self.bootstrap_servers, partitions=self.settings.partitions
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
