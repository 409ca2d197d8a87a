"""The I/O behind ``/ops/summary``: scrape the peers' ``/metrics``, snapshot, summarise.

Peers are the responder's and the store server's Prometheus endpoints
(``JOURNEYS_GATEWAY_OPS_PEERS``). Reading them is plain HTTP to metrics ports, so the gateway
still holds no store address or token. Every scrape has a short timeout: a peer that is down or
slow is reported as down and never holds the page up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
from prometheus_client import CollectorRegistry

from api.demo.ops_samples import Samples, parse_exposition, registry_samples
from api.demo.ops_summary import OpsHistory, OpsSummary, PeerStatus, Snapshot, summarise

#: Peer error messages are shown on the page; keep them to one short line.
_ERROR_MAX_CHARS = 160


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return message[:_ERROR_MAX_CHARS]


class OpsMonitor:
    """Builds :class:`OpsSummary` answers from this gateway's registry and its peers."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        peers: Mapping[str, str],
        timeout_s: float,
        history: OpsHistory | None = None,
    ) -> None:
        self._client = client
        self._peers = dict(peers)
        self._timeout_s = timeout_s
        self.history = history if history is not None else OpsHistory()

    async def _scrape(self, name: str, url: str) -> tuple[Samples | None, PeerStatus]:
        try:
            # httpx times each phase; this caps the whole call (a peer dripping bytes).
            async with asyncio.timeout(self._timeout_s):
                response = await self._client.get(url)
            response.raise_for_status()
            samples = parse_exposition(response.text)
        except (httpx.HTTPError, TimeoutError, ValueError) as exc:
            return None, PeerStatus(name=name, url=url, up=False, error=_describe(exc))
        return samples, PeerStatus(name=name, url=url, up=True)

    async def summary(self, registry: CollectorRegistry) -> OpsSummary:
        """Scrape every peer at once, snapshot with ``registry``, and summarise the window."""
        results = await asyncio.gather(
            *(self._scrape(name, url) for name, url in self._peers.items())
        )
        snapshot = Snapshot(
            at=time.monotonic(),
            gateway=registry_samples(registry),
            peers={status.name: samples for samples, status in results},
        )
        baseline = self.history.add(snapshot)
        peers = [status for _samples, status in results]
        return summarise(snapshot, baseline, peers, datetime.now(UTC))


@asynccontextmanager
async def open_ops_monitor(peers: Mapping[str, str], timeout_s: float) -> AsyncIterator[OpsMonitor]:
    """An :class:`OpsMonitor` whose HTTP client is closed when the block ends."""
    timeout = httpx.Timeout(timeout_s)
    limits = httpx.Limits(max_connections=max(4, 2 * len(peers)), max_keepalive_connections=8)
    # trust_env=False: peers are internal metrics ports, never reached through a proxy.
    async with httpx.AsyncClient(timeout=timeout, limits=limits, trust_env=False) as client:
        yield OpsMonitor(client, peers, timeout_s)
