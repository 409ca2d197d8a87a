"""The product's processes in the local stack: how each is started, with which environment.

:class:`StackProcesses` builds an unstarted :class:`ChildProcess` for the DuckDB store server,
the private PostgreSQL server, the responder and the gateway of ``journeys up``; each runs the
``journeys`` command (or ``postgres``) on 127.0.0.1 with its log under ``<data_dir>/logs`` and
a readiness probe. :mod:`devstack.embedded_stack` starts them in order and watches them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from devstack.child_process import ChildProcess
from devstack.postgres_cluster import LocalCluster
from devstack.processes import journeys_command, port_open
from devstack.stack_settings import HOST, StackSecrets, StackSettings
from devstack.supervisor import http_ok


@dataclass(frozen=True)
class StackProcesses:
    """Builders of the stack's product processes; nothing is started here."""

    settings: StackSettings
    secrets: StackSecrets
    data_dir: Path
    bootstrap_servers: str

    @property
    def logs(self) -> Path:
        return self.data_dir / "logs"

    def kafka_env(self) -> dict[str, str]:
        """What the gateway and the responder are told about Kafka."""
        return {
            "JOURNEYS_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "JOURNEYS_KAFKA_PARTITIONS": str(self.settings.partitions),
        }

    def store_server(self) -> ChildProcess:
        """The DuckDB store server (Arrow Flight) on the stack's database file."""
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

    def postgres(self, cluster: LocalCluster) -> ChildProcess:
        """The private PostgreSQL server of ``--store postgres`` (initialised first)."""
        cluster.ensure_initialised()
        port = cluster.port
        return ChildProcess(
            "store (PostgreSQL)",
            cluster.server_argv(),
            self.logs / "postgres.log",
            ready=lambda: port_open(port, HOST),
            ready_timeout_s=self.settings.ready_timeout_s,
        )

    def responder(self, store_url: str, reader_token: str) -> ChildProcess:
        """One responder reading the store at ``store_url``; ready when it serves /metrics."""
        s = self.settings
        env = {
            **self.kafka_env(),
            "JOURNEYS_RESPONDER_STORE__URL": store_url,
            "JOURNEYS_RESPONDER_STORE__TOKEN": reader_token,
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

    def metrics_urls(self) -> dict[str, str]:
        """The /metrics the ops page reads (an external store's is not known here)."""
        s = self.settings
        urls = {"responder": f"http://{HOST}:{s.responder_metrics_port}/metrics"}
        if s.external_store_url is None and s.store == "duckdb":
            urls["store"] = f"http://{HOST}:{s.store_metrics_port}/metrics"
        return urls

    def gateway(self, api_url: str) -> ChildProcess:
        """The gateway with the demo and ops pages; ready when /readyz answers 200."""
        s = self.settings
        env = {
            **self.kafka_env(),
            "JOURNEYS_GATEWAY_HOST": HOST,
            "JOURNEYS_GATEWAY_PORT": str(s.gateway_port),
            "JOURNEYS_GATEWAY_API_KEYS": self.secrets.api_key,
            "JOURNEYS_GATEWAY_REPLY_PARTITION": "0",
            # The demo and ops pages (docs/demo-and-ops.md); the demo key is pre-filled there.
            "JOURNEYS_GATEWAY_DEMO_PAGES": "true",
            "JOURNEYS_GATEWAY_DEMO_API_KEY": self.secrets.api_key,
            "JOURNEYS_GATEWAY_OPS_PEERS": json.dumps(self.metrics_urls()),
        }
        return ChildProcess(
            "gateway",
            journeys_command("gateway", "serve"),
            self.logs / "gateway.log",
            env=env,
            ready=http_ok(f"{api_url}/readyz"),
            ready_timeout_s=s.ready_timeout_s,
        )
