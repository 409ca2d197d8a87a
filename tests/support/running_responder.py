"""An in-process :class:`responder.Responder` answering on the real broker and store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from responder import Responder, ResponderMetrics, ResponderSettings
from responder.runner import open_store


@dataclass
class RunningResponder:
    """A responder task of this event loop, its settings and metrics."""

    settings: ResponderSettings
    metrics: ResponderMetrics
    responder: Responder

    def sample(self, name: str, **labels: str) -> float:
        """One sample of the responder's registry (0 when absent)."""
        value = self.metrics.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


@asynccontextmanager
async def running_responder(settings: ResponderSettings) -> AsyncIterator[RunningResponder]:
    """A :class:`Responder` answering in a task of this event loop until the block ends."""
    metrics = ResponderMetrics()
    stop = asyncio.Event()
    async with open_store(settings.store) as store, Responder(settings, store, metrics) as r:
        task = asyncio.create_task(r.run(stop))
        try:
            yield RunningResponder(settings, metrics, r)
        finally:
            stop.set()
            async with asyncio.timeout(30):
                await task
