"""What ``journeys up`` is told and what it makes once: settings, secrets, the printed URLs.

:class:`StackSettings` comes from ``journeys up``'s options (or ``JOURNEYS_UP_*``);
:class:`StackSecrets` (store tokens, the demo API key, Airflow's login) are made once and kept
in ``<data_dir>/stack.json`` next to the store's database, so a second ``journeys up`` keeps
both the data and the credentials.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from devstack.processes import free_port

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
    #: The store started locally: the DuckDB store server or a private PostgreSQL cluster.
    store: Literal["duckdb", "postgres"] = "duckdb"
    ready_timeout_s: float = 90.0
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
