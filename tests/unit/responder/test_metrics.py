"""The responder's Prometheus metrics count what a batch did."""

from __future__ import annotations

import urllib.request

from journeys.contract import ReplyStatus
from responder.batch import BatchResult
from responder.metrics import ResponderMetrics, serve_metrics


def value(metrics: ResponderMetrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


def test_record_batch_counts_requests_replies_expired_dlq_and_store_latency() -> None:
    metrics = ResponderMetrics()
    result = BatchResult(consumed=5, expired=2, store_calls=[(0.003, "error"), (0.001, "ok")])
    result.statuses.update({ReplyStatus.OK: 2, ReplyStatus.EXPIRED: 2})
    metrics.record_batch(result)
    assert value(metrics, "journeys_responder_requests_total") == 5
    assert value(metrics, "journeys_responder_expired_requests_total") == 2
    assert value(metrics, "journeys_responder_replies_total", status="ok") == 2
    assert value(metrics, "journeys_responder_replies_total", status="expired") == 2
    assert value(metrics, "journeys_responder_batch_size_count") == 1
    assert value(metrics, "journeys_responder_batch_size_sum") == 5
    count = "journeys_responder_store_call_seconds_count"
    assert value(metrics, count, operation="lookup", outcome="ok") == 1
    assert value(metrics, count, operation="lookup", outcome="error") == 1


def test_lag_gauges_are_replaced_on_each_update() -> None:
    metrics = ResponderMetrics()
    metrics.set_lag({("req", 0): 7, ("req", 1): 0})
    metrics.set_lag({("req", 1): 3})
    name = "journeys_responder_consumer_lag"
    assert metrics.registry.get_sample_value(name, {"topic": "req", "partition": "0"}) is None
    assert value(metrics, name, topic="req", partition="1") == 3


def test_metrics_are_served_over_http_and_port_zero_serves_nothing() -> None:
    metrics = ResponderMetrics()
    metrics.requests.inc(3)
    with serve_metrics(metrics, "127.0.0.1", 0) as port:
        assert port is None
    from tests.support.processes import free_port

    with serve_metrics(metrics, "127.0.0.1", free_port()) as port:
        assert port is not None
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            body = response.read().decode()
    assert "journeys_responder_requests_total 3.0" in body
