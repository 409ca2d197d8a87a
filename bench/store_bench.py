"""Store benchmark: a real store server, seeded with demo journeys, measured over Flight.

    python bench/store_bench.py [--rows 1000000] [--upsert-5m] [--lookups 500]

Prints one table: single-customer lookup p50/p99 and batch-of-500 lookup p50 over Flight, the
same lookups in-process on the same DuckDB file in the same run (the baseline) and the ratio;
upsert rows/s while the table grows (at 1M rows and, with ``--upsert-5m``, at 5M rows); snapshot
scan rows/s. Not a test: it asserts nothing, it reports.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from journeys.store import StoreClient, StoreError, generate_journeys
from journeys.store.database import JourneyDatabase

console = Console()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _timed(call: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


class Server:
    """``journeys store serve`` in a subprocess, stopped on exit."""

    def __init__(self, db: Path, tokens: dict[str, str], log: Path) -> None:
        self.port = _free_port()
        self.url = f"grpc://127.0.0.1:{self.port}"
        env = {**os.environ}
        env.update({f"JOURNEYS_STORE_{r.upper()}_TOKENS": t for r, t in tokens.items()})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "journeys.cli", "store", "serve", "--db", str(db),
             "--port", str(self.port)],
            env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with StoreClient(self.url, tokens["admin"], timeout=1) as client:
                    client.health()
                return
            except StoreError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"store exited, see {log}") from None
                time.sleep(0.1)
        self.stop()
        raise TimeoutError("store did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def _seed(client: StoreClient, journeys: int, start_customer: int, label: str) -> float:
    """Upsert ~``journeys`` rows; returns rows/s of the last ~1M rows (the rate at that size)."""
    customers = max(1, journeys // 5)
    written, tail_rows, tail_time = 0, 0, 0.0
    for table in generate_journeys(customers, start=start_customer, batch_customers=20_000):
        started = time.perf_counter()
        written += client.upsert(table)
        elapsed = time.perf_counter() - started
        if written > journeys - 1_000_000:
            tail_rows += table.num_rows
            tail_time += elapsed
        console.print(f"  {label}: {written:,} rows", end="\r")
    console.print()
    return tail_rows / tail_time if tail_time else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="journeys to seed")
    parser.add_argument("--upsert-5m", action="store_true", help="grow to 5M, measure upserts")
    parser.add_argument("--lookups", type=int, default=500, help="lookups per measurement")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="store-bench-"))
    try:
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
    server = Server(db, tokens, workdir / "store.log")
    try:
        with StoreClient(server.url, tokens["writer"], timeout=30) as writer:
            rate_1m = _seed(writer, args.rows, 1, "seeding")
            customers = max(1, args.rows // 5)
            results.append((f"upsert rows/s at ~{args.rows / 1e6:.1f}M rows",
                            f"{rate_1m:,.0f}", "", "", ">= 200,000"))  # fmt: skip
            if args.upsert_5m:
                rate_5m = _seed(writer, 5_000_000 - args.rows, customers + 1, "growing to 5M")
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
            single_iter = iter(singles)
            flight_single = _timed(lambda: reader.lookup(next(single_iter)), len(singles))
            batch_iter = iter(batches)
            flight_batch = _timed(lambda: reader.lookup(next(batch_iter)), len(batches))
        with StoreClient(server.url, tokens["offloader"], timeout=600) as offloader:
            started = time.perf_counter()
            scanned = sum(batch.num_rows for batch in offloader.scan())
            flight_scan = scanned / (time.perf_counter() - started)
    finally:
        server.stop()

    # The baseline: the same operations in this process on the same file.
    with JourneyDatabase(db) as database:
        for ids in singles[:50]:
            database.lookup(ids)
        single_iter = iter(singles)
        local_single = _timed(lambda: database.lookup(next(single_iter)), len(singles))
        batch_iter = iter(batches)
        local_batch = _timed(lambda: database.lookup(next(batch_iter)), len(batches))
        started = time.perf_counter()
        snapshot = database.snapshot()
        local_scanned = sum(batch.num_rows for batch in snapshot.batches)
        local_scan = local_scanned / (time.perf_counter() - started)

    def ms(value: float) -> str:
        return f"{value * 1000:.2f} ms"

    rows = [
        ("single lookup p50", ms(statistics.median(flight_single)),
         ms(statistics.median(local_single)),
         f"{statistics.median(flight_single) / statistics.median(local_single):.2f}x", "<= 1 ms"),
        ("single lookup p99", ms(_percentile(flight_single, 0.99)),
         ms(_percentile(local_single, 0.99)),
         f"{_percentile(flight_single, 0.99) / _percentile(local_single, 0.99):.2f}x", ""),
        ("batch of 500 lookup p50", ms(statistics.median(flight_batch)),
         ms(statistics.median(local_batch)),
         f"{statistics.median(flight_batch) / statistics.median(local_batch):.2f}x", "<= 5 ms"),
        ("snapshot scan rows/s", f"{flight_scan:,.0f}", f"{local_scan:,.0f}",
         f"{flight_scan / local_scan:.2f}x", ">= 2,000,000"),
    ]  # fmt: skip
    table = Table(title=f"store benchmark ({args.rows:,} journeys seeded, {os.cpu_count()} cores)")
    for column in ("measure", "over Flight", "in-process DuckDB", "ratio", "target"):
        table.add_column(column)
    for row in [*rows, *results]:
        table.add_row(*row)
    console.print(table)
    console.print(f"database: {db} ({db.stat().st_size / 1e6:,.0f} MB)")


if __name__ == "__main__":
    main()
