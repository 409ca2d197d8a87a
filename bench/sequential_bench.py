"""One lookup at a time: the whole request path next to the store lookup alone, same run.

    python bench/sequential_bench.py [--requests 1000] [--customers 10000]

Starts the benchmark stack (bench/bench_stack.py: Apache Kafka, seeded store server, responder,
gateway and the no-Kafka baseline app), then sends ``--requests`` lookups one after
the other, for the same customers in the same order, along three paths:

* ``store``   ``StoreClient.lookup`` over Arrow Flight (the reader token), nothing else;
* ``direct``  HTTP to bench/direct_app.py, which calls the store without Kafka;
* ``kafka``   HTTP to the gateway → Kafka → responder → store → Kafka → gateway.

First ``--warm`` seconds of open-loop load on the gateway (unmeasured; by default
``bench.e2e_bench.JIT_WARM_S``: Apache Kafka's JIT compiler needs a minute of traffic before a
request costs what it will). The store's
lookup cache is warmed with one unmeasured pass over the customers, so every path sees the same
(warm) cache; the first path measured would otherwise pay all the misses.
Prints p50/p90/p99/mean per path and each path's ratio to the store lookup alone. It reports;
it asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from rich.console import Console
from rich.table import Table

from bench.bench_report import loadavg
from bench.bench_stack import StackConfig, bench_stack
from bench.e2e_bench import JIT_WARM_S, WARM_RATE, run_phase
from bench.load_math import nearest_rank
from bench.loadgen import Plan

console = Console()


def _percentile(sorted_ms: list[float], point: float) -> float:
    return sorted_ms[nearest_rank(point, len(sorted_ms))]


def _timed(calls: list[Callable[[], object]]) -> list[float]:
    """Run each call in turn; milliseconds of each, sorted."""
    times = []
    for call in calls:
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return sorted(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra env for gateway and responder (e.g. JOURNEYS_KAFKA_FETCH_MAX_WAIT_MS=10)",
    )
    parser.add_argument(
        "--warm",
        type=float,
        default=JIT_WARM_S,
        help="unmeasured seconds of open-loop load on the gateway first (Apache Kafka's JIT "
        "compiler needs it)",
    )
    args = parser.parse_args()
    env = dict(item.split("=", 1) for item in args.env)

    rng = random.Random(7)
    customers = [f"cust-{rng.randint(1, args.customers):07d}" for _ in range(args.requests)]
    with tempfile.TemporaryDirectory(prefix="seq-bench-") as work:
        config = StackConfig(Path(work), args.customers, extra_env=env)
        with bench_stack(config, lambda what: console.print(f"[dim]starting[/] {what}")) as stack:
            broker = stack.broker_info()["label"]
            headers = {"X-API-Key": stack.api_key}
            gateway = f"http://{stack.gateway_targets[0]}"
            direct = f"http://{stack.direct_target}"
            results: dict[str, list[float]] = {}
            if args.warm > 0:
                console.print(f"[dim]warm-up[/] {WARM_RATE:.0f} req/s for {args.warm:g}s")
                plan = Plan(stack.gateway_targets, stack.api_key, rate=WARM_RATE, warmup_s=0.0,
                            duration_s=args.warm, customers=args.customers)  # fmt: skip
                run_phase(plan, {})
            load_before = loadavg()
            with (
                stack.path.store_client("reader") as store,
                httpx.Client(headers=headers, timeout=10.0) as http,
            ):
                path = "/v1/customers/{}/journeys?status=open"
                for customer in customers:  # warm the store's cache alike for every path
                    store.lookup([customer], status="all")
                for name, make in (
                    ("store", lambda c: lambda: store.lookup([c], status="open")),
                    ("direct", lambda c: lambda: http.get(direct + path.format(c))),
                    ("kafka", lambda c: lambda: http.get(gateway + path.format(c))),
                ):
                    _timed([make(c) for c in customers[:50]])  # warm-up, not measured
                    results[name] = _timed([make(c) for c in customers])

    tuning = " ".join(args.env) or "default settings"
    title = f"{args.requests} sequential lookups, {broker} ({tuning}), load before {load_before}"
    table = Table(title=title)
    for column in ("path", "p50 ms", "p90 ms", "p99 ms", "mean ms", "p50 / store"):
        table.add_column(column, justify="right" if column != "path" else "left")
    store_p50 = _percentile(results["store"], 50)
    for name, times in results.items():
        p50 = _percentile(times, 50)
        table.add_row(
            name,
            f"{p50:.2f}",
            f"{_percentile(times, 90):.2f}",
            f"{_percentile(times, 99):.2f}",
            f"{statistics.fmean(times):.2f}",
            f"x{p50 / store_p50:.1f}",
        )
    console.print(table)


if __name__ == "__main__":
    main()
