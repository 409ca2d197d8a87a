"""Real gateway processes (``journeys gateway serve``) for integration tests."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from journeys.kafka import KafkaSettings
from tests.support.child_env import http_ok, kafka_env
from tests.support.processes import ChildProcess, free_port, journeys_command

API_KEY = "integration-key-5d1e0a7b3c"


@dataclass
class GatewayProcess:
    """A running ``journeys gateway serve`` and how to reach it."""

    process: ChildProcess
    url: str
    reply_partition: int

    def client(self, timeout: float = 10.0) -> httpx.AsyncClient:
        """An HTTP client for this gateway with the test API key."""
        return httpx.AsyncClient(base_url=self.url, headers={"X-API-Key": API_KEY}, timeout=timeout)


def start_gateway(
    name: str,
    kafka: KafkaSettings,
    log_dir: Path,
    *,
    reply_partition: int,
    wait_ready: bool = True,
    **settings: object,
) -> GatewayProcess:
    """Start one gateway process; wait for /readyz (or only /healthz when Kafka is absent)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("JOURNEYS_")}
    env.update(kafka_env(kafka))
    env.update(
        {
            "JOURNEYS_GATEWAY_PORT": str(port),
            "JOURNEYS_GATEWAY_API_KEYS": API_KEY,
            "JOURNEYS_GATEWAY_REPLY_PARTITION": str(reply_partition),
            **{f"JOURNEYS_GATEWAY_{key.upper()}": str(value) for key, value in settings.items()},
        }
    )
    probe = f"{url}/readyz" if wait_ready else f"{url}/healthz"
    process = ChildProcess(
        name,
        journeys_command("gateway", "serve"),
        log_dir / f"{name}.log",
        env=env,
        ready=lambda: http_ok(probe),
        ready_timeout_s=180.0,
    )
    process.start()
    return GatewayProcess(process, url, reply_partition)


#: ``start(name, kafka, **settings)`` as the ``gateways`` fixture hands it out.
GatewayStarter = Callable[..., GatewayProcess]
