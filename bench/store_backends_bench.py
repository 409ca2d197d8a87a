"""The store backends side by side: DuckDB (store server over Flight) and PostgreSQL.

    python bench/store_bench.py --backend duckdb,postgres [--rows 1000000] [--lookups 500]

Both get the same demo journeys through the same interface (``store.open_store``), in one run:
upsert rows/s while the table grows 0 → N, single-customer lookup p50/p99 cold (customers not
looked up before) and warm (the same customers again), batch-of-500 lookup p50, snapshot scan
rows/s and purge rows/s (the closed rows of the scan, by key). DuckDB's lookup cache is off, so
both measure their storage engine. PostgreSQL is a private cluster (``initdb`` in a temp dir,
fsync on, shared_buffers 1GB). The ratio column is PostgreSQL / DuckDB from the same run.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.compute as pc
from rich.console import Console
from rich.table import Table

from store import JourneyStore, generate_journeys, open_store

console = Console()
#: The issue's targets for PostgreSQL on this 2-core machine.
TARGETS = {
    "single lookup p50 (warm)": "<= 0.5 ms",
    "batch of 500 lookup p50": "<= 5 ms",
    "upsert rows/s 0 -> N": ">= 150,000",
    "snapshot scan rows/s": ">= 1,500,000",
}


@contextmanager
def duckdb_store(workdir: Path) -> Iterator[Callable[[str], JourneyStore]]:
    """A DuckDB store server (lookup cache off); yields ``client(role)``."""
    from bench.store_bench import Server

    tokens = {r: f"{r}-{secrets.token_urlsafe(16)}" for r in
              ("reader", "writer", "offloader", "admin")}  # fmt: skip
    server = Server(workdir / "bench.duckdb", tokens, workdir / "store.log",
                    extra_env={"JOURNEYS_STORE_LOOKUP_CACHE_CUSTOMERS": "0"})  # fmt: skip
    try:
        yield lambda role: open_store(server.url, tokens[role], timeout=60, bulk_timeout=3600)
    finally:
        server.stop()


@contextmanager
def postgres_store() -> Iterator[Callable[[str], JourneyStore]]:
    """A private PostgreSQL cluster with an initialised database; yields ``client(role)``."""
    from tests.support.postgres_fixtures import (
        create_store_database,
        make_pg_tokens,
        running_cluster,
    )

    with running_cluster(durable=True, shared_buffers="1GB") as cluster:
        store = create_store_database(cluster, make_pg_tokens(cluster), "journeys")
        yield lambda role: store.client(role, timeout=60, bulk_timeout=3600)


def _timed(call: Callable[[list[str]], object], calls: list[list[str]]) -> list[float]:
    samples = []
    for ids in calls:
        started = time.perf_counter()
        call(ids)
        samples.append(time.perf_counter() - started)
    return samples


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(client: Callable[[str], JourneyStore], rows: int, lookups: int) -> dict[str, float]:
    """Every figure for one backend (seconds for latencies, rows/s for throughputs)."""
    customers = max(1, rows // 5)
    figures: dict[str, float] = {}
    with client("writer") as writer:
        written, spent = 0, 0.0
        for table in generate_journeys(customers, batch_customers=20_000):
            started = time.perf_counter()
            written += writer.upsert(table)
            spent += time.perf_counter() - started
            console.print(f"  upserted {written:,} rows", end="\r")
        console.print()
        figures["upsert rows/s 0 -> N"] = written / spent
    rng = random.Random(7)
    picks = rng.sample(range(1, customers + 1), min(customers, 2 * lookups))
    cold = [[f"cust-{i:07d}"] for i in picks[:lookups]]
    batches = [[f"cust-{i:07d}" for i in rng.sample(range(1, customers + 1), 500)]
               for _ in range(50)]  # fmt: skip
    with client("reader") as reader:
        reader.lookup([f"cust-{picks[-1]:07d}"])  # connect
        cold_s = _timed(reader.lookup, cold)
        warm_s = _timed(reader.lookup, cold)
        batch_s = _timed(reader.lookup, batches[:5] + batches)[5:]
    figures |= {
        "single lookup p50 (cold)": statistics.median(cold_s),
        "single lookup p99 (cold)": _p(cold_s, 0.99),
        "single lookup p50 (warm)": statistics.median(warm_s),
        "single lookup p99 (warm)": _p(warm_s, 0.99),
        "batch of 500 lookup p50": statistics.median(batch_s),
    }
    with client("offloader") as offloader:
        started = time.perf_counter()
        scan = offloader.scan()
        table = scan.read_all()
        figures["snapshot scan rows/s"] = table.num_rows / (time.perf_counter() - started)
        closed = table.filter(pc.equal(table.column("status"), "closed"))
        keys = closed.select(["customer_id", "journey_id"])
        started = time.perf_counter()
        deleted = offloader.purge(closed_before=datetime.now(UTC), snapshot_at=scan.snapshot_at,
                                  keys=keys)  # fmt: skip
        figures["purge rows/s"] = deleted / (time.perf_counter() - started)
    return figures


def _show(name: str, value: float) -> str:
    return f"{value * 1000:.2f} ms" if "lookup" in name else f"{value:,.0f}"


def run(args: argparse.Namespace, backends: list[str], workdir: Path) -> None:
    """Measure each backend in turn and print one table."""
    results: dict[str, dict[str, float]] = {}
    for backend in backends:
        console.print(f"[bold]{backend}[/bold]: {args.rows:,} journeys")
        if backend == "duckdb":
            with duckdb_store(workdir) as client:
                results[backend] = measure(client, args.rows, args.lookups)
        elif backend == "postgres":
            with postgres_store() as client:
                results[backend] = measure(client, args.rows, args.lookups)
        else:
            raise SystemExit(f"unknown backend {backend!r} (duckdb, postgres)")
    table = Table(title=f"store backends ({args.rows:,} journeys, {os.cpu_count()} cores)")
    for column in ("measure", *backends, "postgres / duckdb", "target (postgres)"):
        table.add_column(column)
    names = list(next(iter(results.values())))
    for name in names:
        values = [results[b][name] for b in backends]
        ratio = ""
        if {"duckdb", "postgres"} <= set(results) and results["duckdb"][name]:
            ratio = f"{results['postgres'][name] / results['duckdb'][name]:.2f}x"
        table.add_row(name, *(_show(name, v) for v in values), ratio, TARGETS.get(name, ""))
    console.print(table)
    load = os.getloadavg()
    console.print(f"load average (1/5/15 min) at the end: {load[0]:.1f} / {load[1]:.1f} / "
                  f"{load[2]:.1f} on {os.cpu_count()} cores")  # fmt: skip
