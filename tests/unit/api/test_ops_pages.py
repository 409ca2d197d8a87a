"""The demo and ops pages: off by default (404), served when switched on, /ops/summary live."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from pydantic import ValidationError

from api import GatewaySettings
from api.demo.ops_monitor import OpsMonitor, open_ops_monitor
from api.demo.ops_summary import LOOKUP_ROUTE
from tests.support.gateway_app import API_KEY, Gateway, gateway_settings
from tests.support.processes import free_port

PAGE_PATHS = ("/", "/ops", "/ops/summary", "/demo/config", "/static/demo.js", "/static/ops.js")

Start = Callable[..., Any]


@pytest.fixture
def store_like_peer() -> Iterator[str]:
    """A real Prometheus endpoint exposing what the store and a responder expose."""
    registry = CollectorRegistry()
    rows = Gauge("journeys_store_rows", "Rows.", ["status"], registry=registry)
    rows.labels("open").set(7)
    rows.labels("closed").set(3)
    consumed = Counter("journeys_responder_requests", "Consumed.", registry=registry)
    consumed.inc(5)
    lag = Gauge(
        "journeys_responder_consumer_lag", "Lag.", ["topic", "partition"], registry=registry
    )
    lag.labels("journey.requests", "0").set(2)
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        yield f"http://127.0.0.1:{server.server_port}/metrics"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def silent_peer() -> Iterator[str]:
    """Accepts connections (the kernel's backlog) but never answers a byte."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/metrics"


def test_the_pages_are_off_by_default() -> None:
    assert GatewaySettings(api_keys=[API_KEY]).demo_pages is False


async def test_without_the_switch_every_page_path_is_404(gateway: Gateway) -> None:
    for path in PAGE_PATHS:
        response = await gateway.http.get(path)
        assert response.status_code == 404, path


async def test_with_the_switch_the_pages_and_their_files_are_served(start_gateway: Start) -> None:
    gateway: Gateway = await start_gateway(demo_pages=True)

    demo = await gateway.http.get("/")
    ops = await gateway.http.get("/ops")
    script = await gateway.http.get("/static/demo.js")

    assert demo.status_code == 200
    assert demo.headers["content-type"].startswith("text/html")
    assert "/static/demo.js" in demo.text
    assert "default-src 'self'" in demo.headers["content-security-policy"]
    assert ops.status_code == 200
    assert "/static/ops.js" in ops.text
    assert script.headers["content-type"].startswith("text/javascript")
    assert "performance.now()" in script.text


async def test_only_the_known_static_files_are_served(start_gateway: Start) -> None:
    gateway: Gateway = await start_gateway(demo_pages=True)

    for path in ("/static/missing.js", "/static/..%2Fsettings.py", "/static/__init__.py"):
        response = await gateway.http.get(path)
        assert response.status_code == 404, path


async def test_the_demo_key_is_offered_only_when_configured(start_gateway: Start) -> None:
    plain: Gateway = await start_gateway(demo_pages=True)
    embedded: Gateway = await start_gateway(demo_pages=True, demo_api_key=API_KEY)

    plain_config = (await plain.http.get("/demo/config")).json()
    embedded_config = (await embedded.http.get("/demo/config")).json()

    assert plain_config["api_key"] is None
    assert embedded_config["api_key"] == API_KEY
    assert embedded_config["examples"][0]["customer_id"] == "cust-0000001"


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example:8000", "localhost:9999"]
)
async def test_the_demo_config_is_refused_to_a_foreign_host_header(
    start_gateway: Start, host: str
) -> None:
    """A DNS-rebinding page reaches 127.0.0.1 but sends its own name: it gets no key."""
    gateway: Gateway = await start_gateway(demo_pages=True, demo_api_key=API_KEY)

    refused = await gateway.http.get("/demo/config", headers={"Host": host})
    local = await gateway.http.get("/demo/config", headers={"Host": "localhost:8000"})

    assert refused.status_code == 403
    assert API_KEY not in refused.text
    assert local.json()["api_key"] == API_KEY


def test_a_demo_key_must_be_one_of_the_api_keys() -> None:
    with pytest.raises(ValidationError, match="demo_api_key must be one of api_keys"):
        gateway_settings(demo_api_key="another-key-entirely-1234")


def test_ops_peers_are_read_from_json_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOURNEYS_GATEWAY_API_KEYS", API_KEY)
    monkeypatch.setenv("JOURNEYS_GATEWAY_DEMO_PAGES", "true")
    monkeypatch.setenv(
        "JOURNEYS_GATEWAY_OPS_PEERS",
        '{"responder": "http://127.0.0.1:9101/metrics", "store": "http://127.0.0.1:9102/metrics"}',
    )

    settings = GatewaySettings()

    assert settings.demo_pages is True
    assert {name: str(url) for name, url in settings.ops_peers.items()} == {
        "responder": "http://127.0.0.1:9101/metrics",
        "store": "http://127.0.0.1:9102/metrics",
    }


def test_ops_peers_must_be_http_urls() -> None:
    with pytest.raises(ValidationError, match="ops_peers"):
        gateway_settings(ops_peers={"store": "grpc://127.0.0.1:8815"})


def test_the_counted_route_is_the_lookup_route() -> None:
    from api.routes.journeys import router

    assert LOOKUP_ROUTE in {getattr(route, "path", None) for route in router.routes}


async def test_summary_counts_lookups_and_reads_peers(
    start_gateway: Start, store_like_peer: str
) -> None:
    gateway: Gateway = await start_gateway(demo_pages=True, ops_peers={"store": store_like_peer})
    first = (await gateway.http.get("/ops/summary")).json()
    for customer in ("cust-1", "cust-2", "cust-3"):
        assert (await gateway.lookup(customer)).status_code == 200
    assert (
        await gateway.lookup("cust-4", headers={"X-API-Key": "wrong-key-of-someone"})
    ).status_code == 401

    summary = (await gateway.http.get("/ops/summary")).json()

    assert first["gateway"]["lookups_total"] == 0
    totals = {s["status"]: s["total"] for s in summary["gateway"]["statuses"]}
    assert totals == {"200": 3, "401": 1}, "the page's own /ops/summary calls are not lookups"
    assert summary["store"] == {"rows_open": 7, "rows_closed": 3, "db_bytes": None}
    assert summary["responder"]["consumer_lag"] == {"0": 2}
    assert summary["peers"] == [
        {"name": "store", "url": store_like_peer, "up": True, "error": None}
    ]


async def test_a_down_or_silent_peer_is_reported_down_without_holding_the_page(
    start_gateway: Start, silent_peer: str
) -> None:
    closed_port = f"http://127.0.0.1:{free_port()}/metrics"
    gateway: Gateway = await start_gateway(
        demo_pages=True,
        ops_peers={"responder": closed_port, "store": silent_peer},
        ops_peer_timeout_ms=200,
    )

    response = await gateway.http.get("/ops/summary")

    assert response.status_code == 200
    body = response.json()
    peers = {p["name"]: p for p in body["peers"]}
    assert peers["responder"]["up"] is False
    assert "Connect" in peers["responder"]["error"]
    assert peers["store"]["up"] is False
    assert "Timeout" in peers["store"]["error"]
    assert body["store"] is None
    assert body["responder"] is None


async def test_the_ops_monitor_closes_its_http_client_on_exit() -> None:
    seen: list[OpsMonitor] = []

    async def fail_inside() -> None:
        async with open_ops_monitor({}, timeout_s=0.1) as monitor:
            seen.append(monitor)
            assert not monitor._client.is_closed
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await fail_inside()

    assert seen[0]._client.is_closed
