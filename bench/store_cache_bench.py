"""The store's lookup cache, measured: the rows bench/store_bench.py prints next to uncached ones.

On the database store_bench.py seeded, a store server with its default lookup cache is warmed
with Zipf(1)-skewed batches, then measured like the uncached server: single-customer lookups
(p50/p99) and batches of 500 distinct customers (p50), drawn with the same skew, over Flight
and in-process (the baseline: :class:`JourneyDatabase` with the same cache, same sequence).
The server's own counters give the hit rate of each measurement and its CPU per lookup, hits
against misses (never-seen customers). Memory per cached customer is measured without DuckDB:
Arrow's allocator and the process RSS before and after filling a cache from demo rows.
"""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bench.call_timing import percentile, timed_calls
from bench.load_math import zipf_weights
from bench.proc_cpu import process_cpu_s
from bench.store_server import Server
from devstack.processes import free_port
from journeys.schema import LOOKUP_ORDER, conform_to_journey_schema
from store import StoreClient, generate_journeys
from store.database import JourneyDatabase
from store.lookup_cache import LookupCache
from store.settings import StoreServerSettings
from tests.support.metrics_scrape import scrape

Row = tuple[str, str, str, str, str]
ZIPF_EXPONENT = 1.0


def _zipf_draws(count: int, customers: int, seed: int) -> list[str]:
    """Customer ids drawn with Zipf skew; who is popular is the same for every ``seed``."""
    id_of_rank = np.random.default_rng(0).permutation(customers) + 1
    ranks = np.random.default_rng(seed).choice(
        customers, size=count, p=zipf_weights(customers, ZIPF_EXPONENT)
    )
    return [f"cust-{i:07d}" for i in id_of_rank[ranks]]


def _zipf_batches(count: int, size: int, customers: int, seed: int) -> list[list[str]]:
    """``count`` lookups of ``size`` distinct customers, drawn with Zipf skew."""
    draws = iter(_zipf_draws(count * size * 20, customers, seed))
    batches = []
    for _ in range(count):
        batch: dict[str, None] = {}
        while len(batch) < min(size, customers):
            batch[next(draws)] = None
        batches.append(list(batch))
    return batches


def _hits_misses(port: int) -> tuple[float, float]:
    values = scrape(f"http://127.0.0.1:{port}/metrics")
    prefix = "journeys_store_lookup_cache"
    return values.value(f"{prefix}_hits_total"), values.value(f"{prefix}_misses_total")


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def entry_memory(customers: int = 20_000) -> tuple[float, float, float]:
    """Bytes per cached customer: (Arrow, RSS) filled by batches of 500, Arrow by singles."""
    table = conform_to_journey_schema(pa.concat_tables(generate_journeys(customers)))
    table = table.sort_by(LOOKUP_ORDER).combine_chunks()
    ids = sorted(set(table.column("customer_id").to_pylist()))

    def fetch(wanted: list[str], status: str) -> pa.Table:
        # What the database returns: a fresh, sorted table of only these customers.
        return table.filter(pc.is_in(table["customer_id"], pa.array(wanted))).sort_by(LOOKUP_ORDER)

    results = []
    for size in (500, 1):
        cache = LookupCache(customers)
        gc.collect()
        arrow, rss = pa.total_allocated_bytes(), _rss_bytes()
        for start in range(0, len(ids) if size > 1 else 2_000, size):
            cache.lookup(ids[start : start + size], "all", fetch)
        gc.collect()
        cached = cache.stats().customers
        results.append(
            ((pa.total_allocated_bytes() - arrow) / cached, (_rss_bytes() - rss) / cached)
        )
        del cache
    return results[0][0], results[0][1], results[1][0]


def measure_cached(
    db: Path, tokens: dict[str, str], log: Path, customers: int, lookups: int
) -> list[Row]:
    """Warm a cached server on ``db`` (already seeded, no server running) and measure it."""
    size = StoreServerSettings.model_fields["lookup_cache_customers"].default
    warm = _zipf_batches(60, 500, customers, seed=8)
    singles = [[c] for c in _zipf_draws(lookups, customers, 9)]
    batches = _zipf_batches(50, 500, customers, seed=10)
    fresh = [[f"cust-{customers + 1 + i:07d}"] for i in range(200)]  # never seen: misses
    port = free_port()
    server = Server(db, tokens, log, extra_env={"JOURNEYS_STORE_METRICS_PORT": str(port)})
    try:
        with StoreClient(server.url, tokens["reader"], timeout=30) as reader:

            def counted(calls: list[list[str]]) -> tuple[list[float], float, float]:
                """Latencies, hit rate and server CPU ms per lookup of ``calls``."""
                hits, misses = _hits_misses(port)
                cpu = process_cpu_s(server.proc.pid) or 0.0
                samples = timed_calls(reader.lookup, calls)
                cpu = (process_cpu_s(server.proc.pid) or 0.0) - cpu
                hits_after, misses_after = _hits_misses(port)
                found = hits_after - hits
                return samples, found / (found + misses_after - misses), cpu * 1e3 / len(calls)

            for ids in warm:
                reader.lookup(ids)
            zipf_single = counted(singles)
            hit_single = counted(singles)  # the same customers again: all hits
            zipf_batch = counted(batches)
            hit_batch = counted(batches)
            miss_single = counted(fresh)
    finally:
        server.stop()

    with JourneyDatabase(db, lookup_cache=LookupCache(size)) as database:
        for ids in warm:
            database.lookup(ids)
        local = [timed_calls(database.lookup, calls) for calls in (singles, singles, batches,
                                                                      batches)]  # fmt: skip
    arrow_batch, rss_batch, arrow_single = entry_memory()

    def ms(value: float) -> str:
        return f"{value * 1000:.2f} ms"

    def row(label: str, flight: list[float], baseline: list[float], q: float, target: str) -> Row:
        a, b = percentile(flight, q), percentile(baseline, q)
        return label, ms(a), ms(b), f"{a / b:.2f}x", target

    return [
        row(f"cached single lookup p50, Zipf ({zipf_single[1]:.0%} hits)", zipf_single[0],
            local[0], 0.5, "<= 1 ms"),
        row("cached single lookup p99, Zipf", zipf_single[0], local[0], 0.99, ""),
        row(f"cached single lookup p50 ({hit_single[1]:.0%} hits)", hit_single[0], local[1],
            0.5, "<= 1 ms"),
        row("cached single lookup p99 (all hits)", hit_single[0], local[1], 0.99, ""),
        row(f"cached batch of 500 p50, Zipf ({zipf_batch[1]:.0%} hits)", zipf_batch[0],
            local[2], 0.5, "<= 5 ms"),
        row(f"cached batch of 500 p50 ({hit_batch[1]:.0%} hits)", hit_batch[0], local[3], 0.5,
            "<= 5 ms"),
        ("store CPU ms per lookup: single hit / single miss / batch of 500 hits",
         f"{hit_single[2]:.2f} / {miss_single[2]:.2f} / {hit_batch[2]:.2f}", "", "", ""),
        (f"cache memory per customer (Arrow; RSS), {size:,} max",
         f"{arrow_batch / 1e3:.1f} KB; {rss_batch / 1e3:.1f} KB (batch fills), "
         f"{arrow_single / 1e3:.1f} KB (single fills)", "", "", ""),
    ]  # fmt: skip


if __name__ == "__main__":  # a quick look at memory alone
    started = time.perf_counter()
    print(entry_memory(), f"{time.perf_counter() - started:.1f} s")
