"""The store server's lookup cache, through the real server: never stale, same results as off."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from journeys.schema import KEY_SCHEMA
from store import generate_journeys
from tests.support.journey_rows import journey_row, journeys_table
from tests.support.metrics_scrape import Scrape, scrape
from tests.support.processes import free_port
from tests.support.store_fixtures import StoreServer, unique_prefix

pytestmark = pytest.mark.integration
STATUSES = ("all", "open", "closed")
Factory = Callable[..., AbstractContextManager[StoreServer]]


def _steps(table: pa.Table) -> dict[str, list[int]]:
    steps: dict[str, list[int]] = {}
    for customer, step in zip(table["customer_id"].to_pylist(), table["step"].to_pylist(),
                              strict=True):  # fmt: skip
        steps.setdefault(customer, []).append(step)
    return steps


def _cache_metrics(port: int) -> Scrape:
    return scrape(f"http://127.0.0.1:{port}/metrics")


def _metrics_server(
    factory: Factory, name: str, env: dict[str, str] | None = None, **kwargs: object
) -> tuple[int, AbstractContextManager[StoreServer]]:
    """A private server serving its metrics on a free port (to see the cache's counters)."""
    port = free_port()
    env = {**(env or {}), "JOURNEYS_STORE_METRICS_PORT": str(port)}
    return port, factory(name=name, extra_env=env, **kwargs)


def test_lookup_after_upsert_returns_the_new_values_with_the_cache_warm(
    store_server: StoreServer,
) -> None:
    customer = f"{unique_prefix()}-1"
    with store_server.client("writer") as writer, store_server.client("reader") as reader:
        writer.upsert(journeys_table([journey_row(customer, "j-1", step=1)]))
        for _ in range(3):  # the first fills the cache, the others hit it
            assert reader.lookup([customer])["step"].to_pylist() == [1]
        writer.upsert(journeys_table([journey_row(customer, "j-1", step=2),
                                      journey_row(customer, "j-2", step=5)]))  # fmt: skip
        found = reader.lookup([customer])
    assert sorted(found["step"].to_pylist()) == [2, 5]


def test_closed_reopened_and_updated_journeys_are_seen_at_once(store_server: StoreServer) -> None:
    customer = f"{unique_prefix()}-1"
    versions = [
        {"status": "open", "step": 0},
        {"status": "closed", "step": 1},
        {"status": "open", "step": 2, "closed_at": None},  # re-opened
        {"status": "open", "step": 3, "priority": 1},  # updated
        {"status": "closed", "step": 4},
    ]
    with store_server.client("writer") as writer, store_server.client("reader") as reader:
        for version in versions:
            writer.upsert(journeys_table([journey_row(customer, "j-1", **version)]))
            for _ in range(2):
                by_status = {s: reader.lookup([customer], status=s) for s in STATUSES}
                assert by_status["all"]["step"].to_pylist() == [version["step"]]
                assert by_status[str(version["status"])].num_rows == 1
                other = "open" if version["status"] == "closed" else "closed"
                assert by_status[other].num_rows == 0


def test_purged_rows_are_gone_from_a_warm_cache(store_server: StoreServer) -> None:
    customer = f"{unique_prefix()}-1"
    now = datetime.now(UTC)
    rows = [
        journey_row(customer, "old", status="closed", closed_at=now - timedelta(days=5)),
        journey_row(customer, "open", status="open"),
    ]
    with store_server.client("writer") as writer, store_server.client("reader") as reader:
        writer.upsert(journeys_table(rows))
        with store_server.client("offloader") as offloader:
            scan = offloader.scan(status="closed")
            reader.lookup([customer])
            assert reader.lookup([customer]).num_rows == 2
            keys = pa.table({"customer_id": [customer], "journey_id": ["old"]}, schema=KEY_SCHEMA)
            deleted = offloader.purge(
                closed_before=now - timedelta(days=1), snapshot_at=scan.snapshot_at, keys=keys
            )
        assert deleted == 1
        assert reader.lookup([customer])["journey_id"].to_pylist() == ["open"]


def test_purge_without_keys_empties_the_cache(store_server_factory: Factory) -> None:
    now = datetime.now(UTC)
    rows = [journey_row("c1", "a", status="closed", closed_at=now - timedelta(days=3)),
            journey_row("c1", "b", status="open")]  # fmt: skip
    port, server_cm = _metrics_server(store_server_factory, "purge-all-cache")
    with (
        server_cm as server,
        server.client("writer") as writer,
        server.client("offloader") as offloader,
        server.client("reader") as reader,
    ):
        writer.upsert(journeys_table(rows))
        reader.lookup(["c1"])
        assert reader.lookup(["c1"]).num_rows == 2
        assert _cache_metrics(port).value("journeys_store_lookup_cache_customers") == 1
        offloader.purge(closed_before=now - timedelta(days=1),
                        snapshot_at=offloader.scan().snapshot_at)  # fmt: skip
        assert _cache_metrics(port).value("journeys_store_lookup_cache_customers") == 0
        assert reader.lookup(["c1"])["journey_id"].to_pylist() == ["b"]


def _write_versions(
    server: Any, mine: list[str], versions: int, errors: list[BaseException]
) -> None:
    """Upsert ``versions`` versions of two journeys per customer, alternating batch shapes."""
    try:
        with server.client("writer") as writer:
            for version in range(1, versions + 1):
                rows = [journey_row(customer, f"j-{k}", step=version)
                        for customer in mine for k in range(2)]  # fmt: skip
                if version % 2:  # one upsert per customer, or all of them in one
                    for start in range(0, len(rows), 2):
                        writer.upsert(journeys_table(rows[start : start + 2]))
                else:
                    writer.upsert(journeys_table(rows))
    except BaseException as exc:
        errors.append(exc)


def _read_until(
    server: Any,
    customers: list[str],
    seed: int,
    done: threading.Event,
    errors: list[BaseException],
) -> None:
    """Look up random customers until ``done``; a customer never shows two versions at once
    nor goes back to an older one."""
    rng = random.Random(seed)
    seen: dict[str, int] = {}
    try:
        with server.client("reader") as reader:
            while not done.is_set():
                ids = rng.sample(customers, rng.randint(1, 6))
                for customer, steps in _steps(reader.lookup(ids)).items():
                    assert len(set(steps)) == 1, f"{customer}: two versions {steps}"
                    assert steps[0] >= seen.get(customer, 0), customer
                    seen[customer] = steps[0]
    except BaseException as exc:
        errors.append(exc)


def test_concurrent_upserts_and_lookups_leave_no_stale_entries(
    store_server_factory: Factory,
) -> None:
    customers = [f"cc-{i}" for i in range(24)]
    versions = 12
    port, server_cm = _metrics_server(store_server_factory, "cache-race")
    with server_cm as server:
        done = threading.Event()
        errors: list[BaseException] = []

        writers = [
            threading.Thread(
                target=_write_versions, args=(server, customers[i::3], versions, errors)
            )
            for i in range(3)
        ]
        readers = [
            threading.Thread(target=_read_until, args=(server, customers, seed, done, errors))
            for seed in range(3)
        ]
        for thread in [*readers, *writers]:
            thread.start()
        for thread in writers:
            thread.join(timeout=120)
        done.set()
        for thread in readers:
            thread.join(timeout=60)
        assert not errors, errors[0]
        assert not any(thread.is_alive() for thread in [*writers, *readers])
        with server.client("reader") as reader:
            for _ in range(3):  # a hit must be as fresh as the first miss
                final = _steps(reader.lookup(customers))
                assert final == {customer: [versions, versions] for customer in customers}
        metrics = _cache_metrics(port)
    assert metrics.value("journeys_store_lookup_cache_hits_total") > 0
    assert metrics.value("journeys_store_lookup_cache_invalidations_total") > 0


def test_results_with_the_cache_equal_results_without_it(
    store_server_factory: Factory, tmp_path: Path
) -> None:
    db_path = tmp_path / "same.duckdb"
    rng = random.Random(11)
    ids = [f"cust-{i:07d}" for i in range(1, 601)]
    requests = [
        ([*rng.sample(ids, rng.choice([1, 1, 3, 40, 250])), "cust-missing"],
         rng.choice(STATUSES))
        for _ in range(60)
    ]  # fmt: skip
    results: dict[str, list[pa.Table]] = {}
    for mode, size in (("on", "100000"), ("off", "0")):
        port, server_cm = _metrics_server(
            store_server_factory, f"cache-{mode}", {"JOURNEYS_STORE_LOOKUP_CACHE_CUSTOMERS": size},
            db_path=db_path,
        )  # fmt: skip
        with server_cm as server:
            if mode == "on":
                with server.client("writer") as writer:
                    for table in generate_journeys(len(ids)):
                        writer.upsert(table)
            with server.client("reader") as reader:
                results[mode] = [reader.lookup(i, status=s) for i, s in requests]
            hits = _cache_metrics(port).total("journeys_store_lookup_cache_hits_total")
        assert (hits > 0) == (mode == "on")
    for on, off in zip(results["on"], results["off"], strict=True):
        assert on.equals(off, check_metadata=True)
    assert sum(table.num_rows for table in results["on"]) > 0
    assert any(pc.any(pc.equal(t["status"], "closed")).as_py() for t in results["on"])
