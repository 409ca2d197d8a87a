"""Run one responder process: signals, metrics endpoint, store client, Kafka loop.

``run(settings)`` is what ``journeys responder run`` calls; it runs on uvloop.
SIGTERM and SIGINT set a stop event: the batch in hand is finished and committed, the consumer
leaves its group, and every client is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator
from typing import Final

import uvloop

from responder.errors import ResponderStartError
from responder.metrics import ResponderMetrics, serve_metrics
from responder.service import Responder
from responder.settings import ResponderSettings
from responder.store_lookup import JourneyLookup
from store import StoreClientSettings

log = logging.getLogger(__name__)

_START_RETRY_S: Final = 1.0


@contextlib.asynccontextmanager
async def open_store(settings: StoreClientSettings) -> AsyncIterator[JourneyLookup]:
    """The responder's store client, closed on every path: pyarrow.flight in worker threads,
    or native coroutines on PostgreSQL."""
    async with settings.connect_async() as client:
        yield client


async def serve(settings: ResponderSettings, stop: asyncio.Event | None = None) -> None:
    """Run the responder until SIGTERM/SIGINT (or ``stop``); raises ResponderStartError."""
    stop = stop if stop is not None else asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    metrics = ResponderMetrics()
    try:
        async with open_store(settings.store) as store, contextlib.AsyncExitStack() as stack:
            responder = await _start(settings, store, metrics, stop)
            if responder is None:
                return
            stack.push_async_exit(responder)
            # /metrics comes up once Kafka is connected, so it doubles as a readiness probe.
            port = stack.enter_context(
                serve_metrics(metrics, settings.metrics_host, settings.metrics_port)
            )
            if port is not None:
                log.info("metrics on http://%s:%d/metrics", settings.metrics_host, port)
            await responder.run(stop)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    log.info("responder stopped")


async def _start(
    settings: ResponderSettings,
    store: JourneyLookup,
    metrics: ResponderMetrics,
    stop: asyncio.Event,
) -> Responder | None:
    """Start a responder, retrying while Kafka is not reachable (up to the start-up timeout).

    Returns None when asked to stop before it started.
    """
    give_up_at = time.monotonic() + settings.startup_timeout_s
    while not stop.is_set():
        responder = Responder(settings, store, metrics)
        try:
            return await responder.__aenter__()
        except ResponderStartError as exc:
            if time.monotonic() + _START_RETRY_S > give_up_at:
                raise
            log.warning("%s; retrying in %.0fs", exc, _START_RETRY_S)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_START_RETRY_S):
                await stop.wait()
    return None


def run(settings: ResponderSettings) -> None:
    """Run :func:`serve` on uvloop (a dependency, like the gateway's)."""
    uvloop.run(serve(settings))
