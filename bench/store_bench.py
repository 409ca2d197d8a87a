"""Store benchmark: a real store server, seeded with demo journeys, measured over Flight.

    python bench/store_bench.py [--rows 1000000] [--upsert-5m] [--lookups 500]
    python bench/store_bench.py --backend duckdb,postgres [--rows 1000000] [--upsert-5m]

With ``--backend`` it compares the store backends side by side instead (see
bench/store_backends_bench.py).

Prints one table: single-customer lookup p50/p99 and batch-of-500 lookup p50 over Flight, the
same lookups in-process on the same DuckDB file in the same run (the baseline) and the ratio;
upsert rows/s while the table grows (at 1M rows and, with ``--upsert-5m``, at 5M rows); snapshot
scan rows/s, and the CPU seconds the scan costs per 1M rows on each side (server and client):
on a shared 2-core machine the wall-clock figures move with the load average (printed), the CPU
cost per row does much less. Not a test: it asserts nothing, it reports.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.table import Table

from bench.call_timing import percentile, timed_calls
from bench.proc_cpu import process_cpu_s
from bench.store_backends_bench import run as run_backends
from bench.store_cache_bench import measure_cached
from bench.store_server import Server, seed_journeys
from store import StoreClient
from store.database import JourneyDatabase

console = Console()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="journeys to seed")
    parser.add_argument("--upsert-5m", action="store_true", help="grow to 5M, measure upserts")
    parser.add_argument("--lookups", type=int, default=500, help="lookups per measurement")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--backend", help="compare backends side by side: duckdb,postgres")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="store-bench-"))
    try:
        if args.backend:
            run_backends(args, [b.strip() for b in args.backend.split(",") if b.strip()], workdir)
        else:
            run(args, workdir)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, workdir: Path) -> None:
    """Seed, measure and print the table."""

    tokens = {role: f"{role}-{secrets.token_urlsafe(16)}" for role in
              ("reader", "writer", "offloader", "admin")}  # fmt: skip
    db = workdir / "bench.duckdb"
    results: list[tuple[str, str, str, str, str]] = []
    # The lookup cache off: these rows measure DuckDB's index path (cached rows: see below).
    no_cache = {"JOURNEYS_STORE_LOOKUP_CACHE_CUSTOMERS": "0"}
    server = Server(db, tokens, workdir / "store.log", extra_env=no_cache)
    try:
        with StoreClient(server.url, tokens["writer"], timeout=30) as writer:
            rate_1m = seed_journeys(writer, args.rows, 1, "seeding")
            customers = max(1, args.rows // 5)
            results.append((f"upsert rows/s at ~{args.rows / 1e6:.1f}M rows",
                            f"{rate_1m:,.0f}", "", "", ">= 200,000"))  # fmt: skip
            if args.upsert_5m:
                rate_5m = seed_journeys(
                    writer, 5_000_000 - args.rows, customers + 1, "growing to 5M"
                )
                customers = 1_000_000
                results.append(("upsert rows/s at ~5M rows", f"{rate_5m:,.0f}", "", "",
                                ">= 200,000"))  # fmt: skip
        rng = random.Random(7)
        singles = [[f"cust-{rng.randint(1, customers):07d}"] for _ in range(args.lookups)]
        batches = [
            [f"cust-{i:07d}" for i in rng.sample(range(1, customers + 1), 500)] for _ in range(50)
        ]
        with StoreClient(server.url, tokens["reader"], timeout=30) as reader:
            for ids in singles[:50]:
                reader.lookup(ids)  # warm up
            flight_single = timed_calls(reader.lookup, singles)
            flight_batch = timed_calls(reader.lookup, batches)
        with StoreClient(server.url, tokens["offloader"], timeout=600) as offloader:
            server_cpu = process_cpu_s(server.proc.pid) or 0.0
            client_cpu = time.process_time()
            started = time.perf_counter()
            scanned = sum(batch.num_rows for batch in offloader.scan())
            flight_scan = scanned / (time.perf_counter() - started)
            per_million = 1e6 / max(scanned, 1)
            scan_server_cpu = ((process_cpu_s(server.proc.pid) or 0.0) - server_cpu) * per_million
            scan_client_cpu = (time.process_time() - client_cpu) * per_million
    finally:
        server.stop()
    cached = measure_cached(db, tokens, workdir / "store.log", customers, args.lookups)

    # The baseline: the same operations in this process on the same file.
    with JourneyDatabase(db) as database:
        for ids in singles[:50]:
            database.lookup(ids)
        local_single = timed_calls(database.lookup, singles)
        local_batch = timed_calls(database.lookup, batches)
        started = time.perf_counter()
        local_cpu = time.process_time()
        snapshot = database.snapshot()
        local_scanned = sum(batch.num_rows for batch in snapshot.batches)
        local_scan = local_scanned / (time.perf_counter() - started)
        local_scan_cpu = (time.process_time() - local_cpu) * 1e6 / max(local_scanned, 1)

    def ms(value: float) -> str:
        return f"{value * 1000:.2f} ms"

    rows = [
        ("single lookup p50", ms(statistics.median(flight_single)),
         ms(statistics.median(local_single)),
         f"{statistics.median(flight_single) / statistics.median(local_single):.2f}x", "<= 1 ms"),
        ("single lookup p99", ms(percentile(flight_single, 0.99)),
         ms(percentile(local_single, 0.99)),
         f"{percentile(flight_single, 0.99) / percentile(local_single, 0.99):.2f}x", ""),
        ("batch of 500 lookup p50", ms(statistics.median(flight_batch)),
         ms(statistics.median(local_batch)),
         f"{statistics.median(flight_batch) / statistics.median(local_batch):.2f}x", "<= 5 ms"),
        ("snapshot scan rows/s", f"{flight_scan:,.0f}", f"{local_scan:,.0f}",
         f"{flight_scan / local_scan:.2f}x", ">= 2,000,000"),
        ("scan CPU s per 1M rows (server + client)",
         f"{scan_server_cpu:.2f} + {scan_client_cpu:.2f}", f"{local_scan_cpu:.2f}",
         f"{(scan_server_cpu + scan_client_cpu) / local_scan_cpu:.2f}x", ""),
    ]  # fmt: skip
    table = Table(title=f"store benchmark ({args.rows:,} journeys seeded, {os.cpu_count()} cores)")
    for column in ("measure", "over Flight", "in-process DuckDB", "ratio", "target"):
        table.add_column(column)
    for row in [*rows, *cached, *results]:
        table.add_row(*row)
    console.print(table)
    console.print(f"database: {db} ({db.stat().st_size / 1e6:,.0f} MB)")
    load = os.getloadavg()
    console.print(f"load average (1/5/15 min) at the end: {load[0]:.1f} / {load[1]:.1f} / "
                  f"{load[2]:.1f} on {os.cpu_count()} cores")  # fmt: skip


if __name__ == "__main__":
    main()
