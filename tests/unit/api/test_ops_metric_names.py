"""Every sample /ops/summary reads is one the gateway, responder or store really exposes.

A renamed metric would silently blank a figure on the ops page; this names the one that moved.
"""

from __future__ import annotations

from api.demo.ops_samples import Samples, registry_samples
from api.demo.ops_summary import LOOKUP_ROUTE, Names
from api.metrics import GatewayMetrics
from responder.metrics import ResponderMetrics
from store.database import TableCounts
from store.metrics import StoreMetrics


def _names_of(prefix: str) -> list[str]:
    return [value for key, value in vars(Names).items() if key.startswith(prefix)]


def _exposed(samples: Samples, name: str) -> bool:
    return name in samples or f"{name}_bucket" in samples


def test_the_gateway_exposes_what_the_ops_summary_reads() -> None:
    metrics = GatewayMetrics()
    metrics.observe_request(LOOKUP_ROUTE, 200, 0.004)
    samples = registry_samples(metrics.registry)

    assert [n for n in _names_of("GATEWAY_") if not _exposed(samples, n)] == []


def test_the_responder_exposes_what_the_ops_summary_reads() -> None:
    metrics = ResponderMetrics()
    metrics.replies.labels(status="ok").inc()
    metrics.set_lag({("journey.requests", 0): 1})
    samples = registry_samples(metrics.registry)

    assert [n for n in _names_of("RESPONDER_") if not _exposed(samples, n)] == []


def test_the_store_exposes_what_the_ops_summary_reads() -> None:
    metrics = StoreMetrics(lambda: TableCounts(rows_open=3, rows_closed=2, db_bytes=10))
    samples = registry_samples(metrics.registry)

    assert [n for n in _names_of("STORE_") if not _exposed(samples, n)] == []
    assert samples[Names.STORE_ROWS] == {(("status", "open"),): 3.0, (("status", "closed"),): 2.0}
