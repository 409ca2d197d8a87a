"""End-to-end benchmark of the request path: HTTP → gateway → Kafka → responder → store → back.

    make bench                      # or: python bench/e2e_bench.py --help

Starts its own stack (bench/bench_stack.py: an Apache Kafka broker, the store seeded with demo
journeys, responders, gateways) on free ports, plus the BASELINE: bench/direct_app.py, the same
lookup API served straight from the store without Kafka. Then, for each offered rate, an open-loop
load of Zipf-skewed customers on both paths (interleaved, so drift hits both alike), and a
closed-loop run for the most each path serves. The load generator runs in its own process
pinned to one CPU and reports its own CPU use and how late it sent; every process's CPU is read
from /proc over the measured window. With ``--target`` it drives an already running gateway
instead (Kafka path only).

Writes ``bench/results/<timestamp>/`` (results.json, results.md, latency.png) and prints the
tables. It reports; it asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from rich.console import Console

from bench.bench_report import format_ms, loadavg, machine_info, update_docs, write_report
from bench.bench_stack import StackConfig, bench_stack
from bench.loadgen import Plan
from bench.proc_cpu import CpuSample
from bench.profiling import Profiler

BENCH_DIR = Path(__file__).resolve().parent
#: A path that answers less than this share of the offered rate is not driven any harder.
SATURATED = 0.5
#: Offered rate (req/s) of the unmeasured warm-up on every path (``--warm``).
WARM_RATE = 200.0
#: Seconds of warm-up Apache Kafka needs before a request costs what it will: its JIT compiler
#: is still busy after 45 s at 50 req/s (bench/sequential_bench.py warms up this long).
JIT_WARM_S = 60.0
#: The direct path (Python processes and the store) is warm after this many seconds.
DIRECT_WARM_S = 10.0
# Wide enough for the results table even when stdout is not a terminal (make bench | tee).
console = Console(width=200) if not Console().is_terminal else Console()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--rates",
        default="50,250,500,1000,2000,3000,4000",
        help="offered rates (req/s), comma-separated (default %(default)s)",
    )
    p.add_argument(
        "--duration",
        type=float,
        default=5.0,
        help="measured seconds per rate (default %(default)g)",
    )
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each")
    p.add_argument(
        "--closed-concurrency",
        type=int,
        default=64,
        help="closed-loop workers (0 = skip the closed-loop run)",
    )
    p.add_argument("--customers", type=int, default=50_000, help="customers seeded")
    p.add_argument("--zipf", type=float, default=1.0, help="Zipf exponent of customer skew")
    p.add_argument("--responders", type=int, default=1)
    p.add_argument("--gateways", type=int, default=1)
    p.add_argument("--partitions", type=int, default=8)
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra env for gateways and responders (tuning experiments)",
    )
    p.add_argument("--paths", default="direct,kafka", help="which paths to measure")
    p.add_argument(
        "--store",
        choices=["duckdb", "postgres"],
        default="duckdb",
        help="the store backend: the DuckDB store server, or a private PostgreSQL cluster "
        "(needs the server binaries; use --zipf 0 for a uniform customer mix)",
    )
    p.add_argument(
        "--loadgen-cpu",
        type=int,
        default=(os.cpu_count() or 1) - 1,
        help="CPU the load generator is pinned to (-1 = not pinned)",
    )
    p.add_argument(
        "--connections",
        type=int,
        default=512,
        help="connections per target (above the gateway's in-flight bound, so it sheds)",
    )
    p.add_argument(
        "--profile-rate",
        type=float,
        default=None,
        help="py-spy every Python process during this rate's phases",
    )
    p.add_argument(
        "--idle",
        type=float,
        default=3.0,
        help="seconds of idle CPU measurement (default %(default)g)",
    )
    p.add_argument(
        "--warm",
        type=float,
        default=0.0,
        help="unmeasured seconds of load on every path before the idle measurement "
        f"at {WARM_RATE:g} req/s (the direct path at most {DIRECT_WARM_S:g}s; Apache Kafka's "
        f"JIT compiler needs about {JIT_WARM_S:g}s; default %(default)g)",
    )
    p.add_argument(
        "--target",
        action="append",
        default=[],
        help="host:port of a running gateway (skips starting a stack)",
    )
    p.add_argument(
        "--api-key", default=os.environ.get("JOURNEYS_API_KEY"), help="API key for --target"
    )
    p.add_argument("--out", type=Path, default=BENCH_DIR / "results")
    p.add_argument(
        "--update-docs",
        action="store_true",
        help="also write the tables and plot into docs/performance.md",
    )
    return p.parse_args(argv)


def run_phase(plan: Plan, pids: dict[str, int], profiler: Profiler | None = None) -> dict[str, Any]:
    """Run one loadgen process; CPU of ``pids`` (and the loadgen) over its measured window."""
    argv = [sys.executable, str(BENCH_DIR / "loadgen.py"), json.dumps(asdict(plan))]
    limit = plan.warmup_s + plan.duration_s + plan.timeout_s + plan.drain_s + 60
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as proc:
        watched = {**pids, "loadgen": proc.pid}
        assert proc.stdout is not None
        started_at = time.monotonic()
        before: CpuSample | None = None
        cpu: dict[str, float] = {}
        result: dict[str, Any] = {}
        for line in proc.stdout:
            if time.monotonic() - started_at > limit:
                proc.kill()
                raise RuntimeError("the load generator did not finish in time")
            text = line.strip()
            if text == "MEASURE-START":
                before, t0 = CpuSample.take(watched), time.monotonic()
                if profiler is not None:
                    profiler.start(plan.duration_s)
            elif text == "MEASURE-END" and before is not None:
                cpu = CpuSample.take(watched).percent_since(before, time.monotonic() - t0)
            elif text.startswith("{"):
                result = json.loads(text)
        if proc.wait(timeout=30) != 0 or not result:
            raise RuntimeError(f"the load generator failed (exit {proc.returncode})")
    result["cpu_pct"] = cpu
    return result


def settle(target: str, api_key: str, timeout_s: float = 60.0) -> float:
    """Wait until a lone lookup on ``target`` answers within 100 ms again (the backlog of an
    overloaded phase must not leak into the next one); returns the seconds it took."""
    started = time.monotonic()
    url = f"http://{target}/v1/customers/cust-0000001/journeys"
    with httpx.Client(headers={"X-API-Key": api_key}, timeout=10.0) as client:
        while time.monotonic() - started < timeout_s:
            sent = time.monotonic()
            with contextlib.suppress(httpx.HTTPError):
                client.get(url)
            if time.monotonic() - sent < 0.1:
                break
            time.sleep(0.2)
    return time.monotonic() - started


def idle_cpu(pids: dict[str, int], seconds: float) -> dict[str, float]:
    """CPU of every process while nothing is asked of them (fetch polling, heartbeats)."""
    before, t0 = CpuSample.take(pids), time.monotonic()
    time.sleep(seconds)
    return CpuSample.take(pids).percent_since(before, time.monotonic() - t0)


def measure(args: argparse.Namespace, targets: dict[str, list[str]], api_key: str,
            pids: dict[str, int], profile_dir: Path, warm_s: float) -> dict[str, Any]:  # fmt: skip
    """Every phase on every path, after ``warm_s`` of unmeasured load and the idle
    measurement; returns the results document (without machine info)."""
    rates = [float(r) for r in args.rates.split(",") if r]
    base = {
        "api_key": api_key,
        "warmup_s": args.warmup,
        "duration_s": args.duration,
        "customers": args.customers,
        "zipf_exponent": args.zipf,
        "connections": args.connections,
        "cpu": None if args.loadgen_cpu < 0 else args.loadgen_cpu,
    }
    phases: list[dict[str, Any]] = []
    for path, urls in targets.items():
        seconds = min(warm_s, DIRECT_WARM_S) if path == "direct" else warm_s
        if seconds > 0:
            console.print(f"[dim]{path:>6} warm-up {WARM_RATE:.0f} req/s for {seconds:g}s …[/]")
            warm = {"warmup_s": 0.0, "duration_s": seconds}
            run_phase(Plan(targets=urls, mode="open", rate=WARM_RATE, **base | warm), pids)
            settle(urls[0], api_key)
    idle = idle_cpu(pids, args.idle) if args.idle > 0 else {}
    saturated: dict[str, float] = {}
    for rate in rates:
        for path, urls in targets.items():
            if path in saturated:
                continue  # it could not keep up with a lower rate: more only adds backlog
            profiler = None
            if args.profile_rate == rate:
                profiler = Profiler(profile_dir / "profile" / path, pids)
            console.print(f"[dim]{path:>6} open loop {rate:>6.0f} req/s …[/]", end=" ")
            result = run_phase(Plan(targets=urls, mode="open", rate=rate, **base), pids, profiler)
            if profiler is not None:
                result["profile"] = profiler.finish()
            result["path"] = path
            result["settle_s"] = settle(urls[0], api_key)
            phases.append(result)
            console.print(_one_line(result))
            if result["achieved_rps"] < SATURATED * rate:
                saturated[path] = rate
    if args.closed_concurrency > 0:
        for path, urls in targets.items():
            plan = Plan(targets=urls, mode="closed", concurrency=args.closed_concurrency, **base)
            console.print(f"[dim]{path:>6} closed loop x{args.closed_concurrency} …[/]", end=" ")
            result = run_phase(plan, pids)
            result["path"] = path
            result["settle_s"] = settle(urls[0], api_key)
            phases.append(result)
            console.print(_one_line(result))
    return {"idle_cpu_pct": idle, "phases": phases, "saturated_at": saturated}


def _one_line(result: dict[str, Any]) -> str:
    lat = result["latency_ms"]
    return (
        f"{result['achieved_rps']:7.0f} req/s  p50 {format_ms(lat['p50'])} ms  "
        f"p99 {format_ms(lat['p99'])} ms  "
        f"{result['statuses']}  settled in {result['settle_s']:.1f}s"
    )


def run_stack(args: argparse.Namespace, env: dict[str, str], out_dir: Path,
              machine: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """Start a fresh stack, measure every phase on it, stop it; its document (phases, idle
    CPU, the broker's version, ``machine`` with the load average before and after)."""
    started = datetime.now(UTC).isoformat()
    machine = machine | {"loadavg_before": loadavg()}
    with tempfile.TemporaryDirectory(prefix="e2e-bench-") as work:
        config = StackConfig(
            work_dir=Path(work),
            customers=args.customers,
            responders=args.responders,
            gateways=args.gateways,
            partitions=args.partitions,
            store=args.store,
            extra_env=env,
        )
        with bench_stack(config, lambda text: console.print(f"[dim]starting[/] {text} …")) as stack:
            paths = {"direct": [stack.direct_target], "kafka": stack.gateway_targets}
            wanted = {p: paths[p] for p in args.paths.split(",")}
            document = measure(args, wanted, stack.api_key, stack.pids, out_dir, args.warm)
            document["warm_s"] = args.warm
            document["broker"] = stack.broker_info()
            document["store"] = args.store
    return document | {"started_at": started, "machine": machine | {"loadavg_after": loadavg()}}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    out_dir = args.out / started.strftime("%Y%m%dT%H%M%SZ")
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(item.split("=", 1) for item in args.env)
    machine = machine_info()
    console.print(f"[bold]machine[/] {machine['cpu_model']}, {machine['cpus']} CPUs, "
                  f"load {machine['loadavg_before']}")  # fmt: skip
    hidden = ("api_key", "out", "update_docs")
    config: dict[str, Any] = {k: str(v) for k, v in vars(args).items() if k not in hidden}
    config["env"] = env
    config["command"] = shlex.join(["python", "bench/e2e_bench.py", *(argv or sys.argv[1:])])
    document: dict[str, Any] = {
        "started_at": started.isoformat(), "machine": machine, "config": config
    }  # fmt: skip
    if args.target:
        if not args.api_key:
            console.print("[red]error:[/] --target needs --api-key (or JOURNEYS_API_KEY)")
            return 2
        document |= measure(args, {"kafka": args.target}, args.api_key, {}, out_dir, args.warm)
    else:
        document |= run_stack(args, env, out_dir, machine)
    document["machine"]["loadavg_after"] = loadavg()
    write_report(document, out_dir, console)
    if args.update_docs:
        docs = BENCH_DIR.parent / "docs"
        update_docs(
            document, out_dir, docs / "performance.md", docs / "performance" / "latency.png"
        )
    console.print(f"results in {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
