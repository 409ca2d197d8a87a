"""A pure ASGI middleware that counts every HTTP answer by route template and status."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import GatewayMetrics

UNMATCHED_ROUTE = "unmatched"


class MetricsMiddleware:
    """Observe status and end-to-end latency (arrival to response start) of each request."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                route = scope.get("route")
                path = getattr(route, "path", UNMATCHED_ROUTE)
                self.metrics.observe_request(path, status, time.perf_counter() - started)
            await send(message)

        await self.app(scope, receive, send_and_observe)
