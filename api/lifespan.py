"""The gateway's lifespan: the Kafka link is opened at start and closed on every path.

Start-up waits up to ``CONNECT_WAIT_S`` for the link to connect before the server accepts
requests, so a restarted gateway does not answer its first lookups 503 while Kafka is up; with
Kafka down it starts after that wait and answers 503 until the link connects.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI

from api.kafka_link import KafkaLink, Link
from api.metrics import GatewayMetrics
from api.reply_router import ReplyRouter
from api.requester import Requester
from api.settings import GatewaySettings
from api.state import GatewayState

#: Builds the Kafka boundary; tests pass a fake one.
LinkFactory = Callable[[GatewaySettings, ReplyRouter], Link]
#: Longest start-up wait for the Kafka link to connect.
CONNECT_WAIT_S = 5.0


_CONNECT_POLL_S = 0.02


async def _wait_connected(link: Link) -> None:
    for _ in range(int(CONNECT_WAIT_S / _CONNECT_POLL_S)):
        if link.connected():
            return
        await asyncio.sleep(_CONNECT_POLL_S)


def gateway_lifespan(
    settings: GatewaySettings, metrics: GatewayMetrics, link_factory: LinkFactory = KafkaLink
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A lifespan that opens the Kafka link, publishes :class:`GatewayState`, then closes it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        router = ReplyRouter(on_reply=metrics.count_reply, on_log_lost=metrics.reply_log_lost.inc)
        link = link_factory(settings, router)
        await link.start()
        try:
            await _wait_connected(link)
            app.state.gateway = GatewayState(
                settings=settings,
                api_keys=settings.api_key_bytes(),
                metrics=metrics,
                router=router,
                link=link,
                requester=Requester(settings, link, router, metrics),
            )
            yield
        finally:
            router.cancel_all()
            await link.stop()

    return lifespan
