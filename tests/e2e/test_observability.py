"""Metrics, traces and logs of the real processes: gateway → Kafka → responder → store.

Every process writes JSON lines to its log file (``ChildProcess.log_path``); the tests read
them with polls that have a timeout, since lines reach the file from a writer thread.
"""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.e2e.test_request_path import DEMO_CUSTOMER, wait_answering
from tests.support.metrics_scrape import scrape
from tests.support.processes import wait_until
from tests.support.stack_fixtures import ProcessStack

pytestmark = pytest.mark.e2e

ROUTE = "/v1/customers/{customer_id}/journeys"
REQUESTS = 25


def _path(customer: str) -> str:
    return f"/v1/customers/{customer}/journeys?status=all"


def json_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON objects logged in ``path`` (other output, e.g. a start-up print, is skipped)."""
    found = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                found.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue
    return found


def wait_for_line(path: Path, what: str, **fields: Any) -> dict[str, Any]:
    """The first JSON line of ``path`` whose fields include ``fields`` (polled, 30 s)."""
    found: list[dict[str, Any]] = []

    def probe() -> bool:
        found[:] = [
            line
            for line in json_lines(path)
            if all(line.get(key) == value for key, value in fields.items())
        ]
        return bool(found)

    wait_until(probe, 30, what, interval=0.1)
    return found[0]


def test_metrics_on_every_process_move_as_requests_flow(process_stack: ProcessStack) -> None:
    # Hedging off: on a slow machine a hedge copy would be counted by the responder too, and
    # this test compares every process's counters with the number of requests exactly.
    responder, gateway = process_stack.start_path(50, JOURNEYS_GATEWAY_HEDGE_ENABLED="false")
    wait_answering(process_stack, gateway)
    urls = {
        "gateway": gateway.metrics_url,
        "responder": responder.metrics_url,
        "store": process_stack.store_metrics_url,
    }
    before = {name: scrape(url) for name, url in urls.items()}

    with process_stack.http(gateway) as client:
        statuses = [client.get(_path(f"cust-{i:07d}")).status_code for i in range(REQUESTS)]
    assert set(statuses) <= {200, 404}, statuses

    # The responder counts a batch after its replies are acknowledged, so possibly just after
    # the gateway answered: wait for it rather than read once.
    def responder_counted() -> bool:
        now = scrape(responder.metrics_url)
        return (
            now.total("journeys_responder_requests_total")
            >= before["responder"].total("journeys_responder_requests_total") + REQUESTS
        )

    wait_until(responder_counted, 30, "the responder counting the requests", interval=0.2)
    after = {name: scrape(url) for name, url in urls.items()}

    def moved(process: str, name: str, **labels: str) -> float:
        return after[process].total(name, **labels) - before[process].total(name, **labels)

    assert moved("gateway", "journeys_gateway_requests_total", route=ROUTE) == REQUESTS
    assert moved("gateway", "journeys_gateway_request_duration_seconds_count", route=ROUTE) == (
        REQUESTS
    )
    assert moved("gateway", "journeys_gateway_replies_total") == REQUESTS
    assert moved("responder", "journeys_responder_requests_total") == REQUESTS
    assert moved("responder", "journeys_responder_replies_total") == REQUESTS
    assert moved("responder", "journeys_responder_batch_size_count") >= 1
    assert moved("responder", "journeys_responder_batch_size_sum") == REQUESTS
    store_calls = moved("responder", "journeys_responder_store_call_seconds_count", outcome="ok")
    assert 1 <= store_calls <= REQUESTS
    assert moved("store", "journeys_store_call_seconds_count", operation="lookup") >= store_calls
    assert moved("store", "journeys_store_rows_processed_total", operation="lookup") > 0


def test_a_request_trace_id_is_followed_from_the_gateway_log_to_the_responder_log(
    process_stack: ProcessStack,
) -> None:
    responder, gateway = process_stack.start_path(10)
    wait_answering(process_stack, gateway)
    trace_id = uuid.uuid4().hex
    caller_span = secrets.token_hex(8)

    with process_stack.http(gateway) as client:
        response = client.get(
            _path(DEMO_CUSTOMER), headers={"traceparent": f"00-{trace_id}-{caller_span}-01"}
        )
    assert response.status_code == 200, response.text
    correlation_id = response.headers["x-correlation-id"]
    assert response.headers["traceparent"].split("-")[1] == trace_id

    at_gateway = wait_for_line(
        gateway.process.log_path, "the gateway's request line", trace_id=trace_id
    )
    at_responder = wait_for_line(
        responder.process.log_path, "the responder's request line", trace_id=trace_id
    )

    assert at_gateway["process"] == "gateway"
    assert at_gateway["correlation_id"] == correlation_id
    assert at_gateway["status"] == 200
    assert at_gateway["route"] == ROUTE
    assert at_responder["process"] == "responder"
    assert at_responder["correlation_id"] == correlation_id
    assert at_responder["status"] == "ok"
    # The responder's line names the gateway span that sent the request: one hop of one trace.
    assert at_gateway["span_id"] != caller_span
    assert at_responder["span_id"] == at_gateway["span_id"]
    assert at_responder["batch_trace_id"]


def test_no_secret_is_ever_logged(process_stack: ProcessStack) -> None:
    process_stack.start_store()
    process_stack.seed(10)
    debug = {"JOURNEYS_RESPONDER_LOG_LEVEL": "debug"}
    responder = process_stack.start_responder(**debug)
    gateway = process_stack.start_gateway(JOURNEYS_GATEWAY_LOG_LEVEL="debug")
    wait_answering(process_stack, gateway)
    wrong_key = secrets.token_urlsafe(24)

    with process_stack.http(gateway) as client:
        assert client.get(_path(DEMO_CUSTOMER)).status_code == 200
        assert client.get(_path("cust-9999999")).status_code == 404
        assert client.get(_path("bad id")).status_code == 422
        assert client.get(_path(DEMO_CUSTOMER), headers={"X-API-Key": wrong_key}).status_code == (
            401
        )
        # A caller that sends what it should not: a store token, the key in the query string.
        misplaced = {"Authorization": f"Bearer {process_stack.tokens['writer']}"}
        assert client.get(_path(DEMO_CUSTOMER), headers=misplaced).status_code == 200
        url = f"{_path(DEMO_CUSTOMER)}&api_key={process_stack.api_key}"
        assert client.get(url).status_code == 200
    wait_for_line(gateway.process.log_path, "the 401 request line", status=401)
    process_stack.close()  # every log flushed to its file

    logs = {
        path.name: path.read_text(errors="replace") for path in process_stack.work_dir.glob("*.log")
    }
    assert set(logs) == {"store.log", "responder.log", "gateway.log"}
    for secret in (process_stack.api_key, wrong_key, *process_stack.tokens.values()):
        leaked = [name for name, text in logs.items() if secret in text]
        assert leaked == [], f"a secret appears in {leaked}"
    # The logs are really there, and every gateway and responder line is one JSON object.
    for name in ("gateway.log", "responder.log"):
        lines = logs[name].splitlines()
        assert len(lines) > 10, name
        assert all(isinstance(orjson.loads(line), dict) for line in lines), name
    assert any(line.get("status") == 401 for line in json_lines(gateway.process.log_path))
    assert any(
        line.get("logger") == "aiokafka.conn" for line in json_lines(responder.process.log_path)
    )
