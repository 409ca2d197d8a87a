"""LookupRoute answers well-formed lookups without FastAPI's solver, and exactly as FastAPI does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from api.routes.lookup_route import LookupRoute
from tests.support.gateway_app import API_KEY, Gateway

# (method, path, query, API key): well-formed lookups and every way to miss the fast path.
REQUESTS = [
    ("GET", "/v1/customers/cust-1/journeys", {}, API_KEY),
    ("GET", "/v1/customers/cust-1/journeys", {"status": "closed"}, API_KEY),
    ("GET", "/v1/customers/cust-1/journeys", {"status": "all"}, API_KEY),
    ("GET", "/v1/customers/cust-1/journeys", {"status": "bogus"}, API_KEY),
    ("GET", "/v1/customers/cust-1/journeys", {"status": "OPEN"}, API_KEY),
    ("GET", "/v1/customers/cust-1/journeys", {"status": ["bogus", "all"]}, API_KEY),
    ("GET", "/v1/customers/cust-1/journeys", {"other": "1"}, API_KEY),
    ("GET", "/v1/customers/cust-1%0A/journeys", {}, API_KEY),
    ("GET", "/v1/customers/_leading-underscore/journeys", {}, API_KEY),
    ("GET", f"/v1/customers/{'c' * 65}/journeys", {}, API_KEY),
    ("GET", "/v1/customers/cust-1/journeys", {}, "wrong-key"),
    ("GET", "/v1/customers/cust-1/journeys", {}, ""),
    ("POST", "/v1/customers/cust-1/journeys", {}, API_KEY),
]


async def answer(gateway: Gateway, method: str, path: str, query: Any, key: str) -> Any:
    response = await gateway.http.request(
        method, path, params=query, headers={"X-API-Key": key} if key else {}
    )
    names = sorted(set(response.headers) - {"x-correlation-id", "traceparent"})
    return response.status_code, response.json(), names


@pytest.mark.parametrize(("method", "path", "query", "key"), REQUESTS)
async def test_fast_path_answers_exactly_like_fastapis_handler(
    start_gateway: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    path: str,
    query: Any,
    key: str,
) -> None:
    gateway: Gateway = await start_gateway()
    fast = await answer(gateway, method, path, query, key)
    monkeypatch.setattr(LookupRoute, "handle", APIRoute.handle)  # FastAPI's own path only
    validated = await answer(gateway, method, path, query, key)

    assert fast == validated


@pytest.mark.parametrize("status", ["open", "closed", "all"])
async def test_every_status_filter_reaches_kafka(gateway: Gateway, status: str) -> None:
    response = await gateway.lookup("cust-1", params={"status": status})

    assert response.status_code == 200
    assert response.json()["status"] == status
    assert gateway.kafka.sent[-1].body["status"] == status


async def test_customer_id_with_a_trailing_newline_is_422_and_nothing_is_produced(
    gateway: Gateway,
) -> None:
    response = await gateway.lookup("cust-1%0A")

    assert response.status_code == 422
    assert gateway.kafka.sent == []


async def test_well_formed_lookups_skip_fastapis_handler_and_others_do_not(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    validated: list[str] = []
    fastapi_handle = Route.handle

    async def counting(self: Route, scope: Scope, receive: Receive, send: Send) -> None:
        validated.append(scope["path"])
        await fastapi_handle(self, scope, receive, send)

    monkeypatch.setattr(Route, "handle", counting)
    well_formed = await gateway.lookup("cust-1")
    bad_key = await gateway.lookup("cust-1", headers={"X-API-Key": "wrong-key"})

    assert (well_formed.status_code, bad_key.status_code) == (200, 401)
    assert validated == ["/v1/customers/cust-1/journeys"]  # only the bad-key request
