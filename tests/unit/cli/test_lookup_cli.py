"""``journeys lookup`` and its HTTP client: tables on success, one line and exit 1 on errors."""

from __future__ import annotations

import httpx
import pytest
from typer.testing import CliRunner

from cli.app import app
from cli.gateway_client import LookupFailed, fetch_customer_journeys
from journeys.contract import StatusFilter
from tests.support.journey_rows import reply_journey
from tests.support.processes import free_port

runner = CliRunner()


def transport(status: int, body: object) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        assert request.headers["X-API-Key"] == "the-key"
        assert request.url.raw_path == b"/v1/customers/cust%2F1/journeys?status=all"
        return httpx.Response(status, json=body)

    return httpx.MockTransport(handle)


def fetch(status: int, body: object) -> object:
    return fetch_customer_journeys(
        "cust/1",
        base_url="http://gw/",
        api_key="the-key",
        status=StatusFilter.ALL,
        transport=transport(status, body),
    )


def test_client_returns_the_body_of_a_200() -> None:
    body = {
        "customer_id": "cust/1",
        "status": "all",
        "journeys": [reply_journey("c", "j", priority=1)],
    }

    assert fetch(200, body) == body


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (404, {"detail": "customer c has no open journeys"}, "HTTP 404: customer c has no open"),
        (401, {"detail": "invalid API key"}, "HTTP 401: invalid API key"),
        (422, {"detail": [{"loc": ["path"], "msg": "String should match"}]}, "HTTP 422: String"),
    ],
)
def test_client_turns_error_answers_into_one_line(status: int, body: object, message: str) -> None:
    with pytest.raises(LookupFailed, match=message):
        fetch(status, body)


def test_lookup_without_a_gateway_prints_one_line_and_exits_1() -> None:
    url = f"http://127.0.0.1:{free_port()}"

    result = runner.invoke(app, ["lookup", "cust-1", "--url", url, "--api-key", "k" * 20])

    assert result.exit_code == 1
    assert result.output.startswith(f"error: cannot reach the gateway at {url}")
    assert len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_lookup_without_an_api_key_says_how_to_give_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOURNEYS_API_KEY", raising=False)

    result = runner.invoke(app, ["lookup", "cust-1"])

    assert result.exit_code == 1
    assert "pass --api-key or set JOURNEYS_API_KEY" in result.output


def test_gateway_serve_with_a_placeholder_key_refuses_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOURNEYS_GATEWAY_API_KEYS", "changeme-changeme-changeme")

    result = runner.invoke(app, ["gateway", "serve"])

    assert result.exit_code == 1
    assert result.output.strip() == (
        "error: invalid gateway settings: api_keys: "
        "Value error, API key #1 is a placeholder; generate a random one"
    )
    assert "changeme-changeme-changeme" not in result.output
