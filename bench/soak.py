"""Soak of the real local stack: ``journeys up`` under a steady open-loop load for minutes.

    make soak                                   # 300 req/s for 10 minutes
    python bench/soak.py --minutes 1 --rate 100 --bucket 15

Starts ``journeys up`` exactly as a user would (the ``journeys`` console script, a temporary
data directory, free ports; bench/soak_stack.py), waits until it prints that it is ready, then
drives the gateway with bench/loadgen.py (its own process pinned to one CPU, open loop: latency
counts from each request's scheduled send). Every ``--bucket`` seconds it samples every process
of the stack (found as children of ``journeys up``): resident memory and CPU over the interval.
Whatever ``journeys up`` prints during the load (a child that died and was restarted) is kept,
timed, as an event. After the load it measures idle CPU, then always stops ``journeys up``.

Prints a row per interval (requests, answers, errors by status, p50/p99/max, memory and CPU of
each process) and a summary (errors, last-over-first p99, errors near events); writes
``bench/results/soak-<timestamp>/`` (results.json, results.md, latency.png and the
stack's logs). It reports; it asserts nothing.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.markup import escape

from bench.bench_report import loadavg, machine_info
from bench.loadgen import Plan
from bench.proc_tree import TreeSample
from bench.soak_report import ROLES, write_report
from bench.soak_stack import READY_PREFIX, UpProcess

BENCH_DIR = Path(__file__).resolve().parent
console = Console(width=220) if not Console().is_terminal else Console()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rate", type=float, default=300.0, help="offered lookups per second")
    p.add_argument("--minutes", type=float, default=10.0, help="measured minutes of load")
    p.add_argument("--bucket", type=float, default=60.0, help="seconds per reported interval")
    p.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds of load first")
    p.add_argument(
        "--demo-customers",
        type=int,
        default=1000,
        help="customers journeys up seeds (and the load asks for)",
    )
    p.add_argument("--connections", type=int, default=256, help="HTTP connections (pool)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds before a request fails")
    p.add_argument("--idle", type=float, default=10.0, help="seconds of idle CPU after the load")
    p.add_argument(
        "--ready-timeout",
        type=float,
        default=300.0,
        help="seconds journeys up may take to be ready",
    )
    p.add_argument(
        "--loadgen-cpu",
        type=int,
        default=(os.cpu_count() or 1) - 1,
        help="CPU the load generator is pinned to (-1 = not pinned)",
    )
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for journeys up (e.g. JOURNEYS_UP_*)",
    )
    p.add_argument("--out", type=Path, default=BENCH_DIR / "results")
    return p.parse_args(argv)


def _read_lines(stream: Any, into: queue.Queue[str | None]) -> None:
    for line in stream:
        into.put(line.strip())
    into.put(None)


class Sampler:
    """Samples the stack (and the load generator) at the end of every interval."""

    def __init__(self, up: UpProcess, loadgen_pid: int, bucket_s: float) -> None:
        self.up, self.extra, self.bucket_s = up, {"loadgen": loadgen_pid}, bucket_s
        self.samples: list[dict[str, Any]] = []
        self.started = False
        self.t0 = 0.0
        self._last: TreeSample | None = None
        self._last_at = 0.0
        self._shown = 0.0

    def begin(self) -> None:
        self.started = True
        self.t0 = self._last_at = self._shown = time.monotonic()
        self._last = TreeSample.take(self.up.proc.pid, self.extra)

    @property
    def next_at(self) -> float:
        return self.t0 + (len(self.samples) + 1) * self.bucket_s

    def take(self) -> None:
        assert self._last is not None
        now, sample = time.monotonic(), TreeSample.take(self.up.proc.pid, self.extra)
        usage = sample.since(self._last, now - self._last_at)
        self.up.remember_children()
        start = len(self.samples) * self.bucket_s
        self.samples.append(
            {
                "start_s": start,
                "end_s": start + self.bucket_s,
                "rss_mb": usage.rss_mb,
                "cpu_pct": usage.cpu_pct,
            }
        )
        self._last, self._last_at = sample, now
        shown = ", ".join(
            f"{role} {usage.rss_mb.get(role, 0):.0f} MB {usage.cpu_pct[role]:.0f} %"
            for role in ROLES
            if role in usage.cpu_pct
        )
        console.print(f"[dim]{start + self.bucket_s:>6.0f} s[/] {shown}")
        for line in self.up.lines_since(self._shown):
            console.print(f"[yellow]journeys up:[/] {escape(line.text)}", soft_wrap=True)
        self._shown = now


def drive(plan: Plan, up: UpProcess) -> tuple[dict[str, Any], Sampler]:
    """Run the load generator; sample the stack every ``plan.bucket_s`` of its measured window."""
    assert plan.bucket_s is not None
    argv = [sys.executable, str(BENCH_DIR / "loadgen.py"), json.dumps(asdict(plan))]
    deadline = time.monotonic() + plan.warmup_s + plan.duration_s + plan.timeout_s + 180
    lines: queue.Queue[str | None] = queue.Queue()
    wanted = math.ceil(plan.duration_s / plan.bucket_s)  # intervals of the measured window
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as proc:
        sampler = Sampler(up, proc.pid, plan.bucket_s)
        threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True).start()
        result: dict[str, Any] = {}
        ended = False
        try:
            while True:
                now = time.monotonic()
                if now > deadline:
                    raise RuntimeError("the load generator did not finish in time")
                more = sampler.started and len(sampler.samples) < wanted
                if more and now >= sampler.next_at:
                    sampler.take()
                    continue
                if ended and not more:
                    break
                wait = min(1.0, max(0.0, sampler.next_at - now)) if more else 1.0
                if ended:
                    time.sleep(wait)
                    continue
                try:
                    text = lines.get(timeout=wait)
                except queue.Empty:
                    continue
                if text is None:
                    ended = True
                elif text == "MEASURE-START":
                    sampler.begin()
                elif text.startswith("{"):
                    result = json.loads(text)
            if proc.wait(timeout=60) != 0 or not result:
                raise RuntimeError(f"the load generator failed (exit {proc.returncode})")
        finally:
            if proc.poll() is None:
                proc.kill()
    return result, sampler


def idle_cpu(up: UpProcess, seconds: float) -> dict[str, float]:
    """CPU of every process of the stack with no load (a broker still busy shows here)."""
    before, t0 = TreeSample.take(up.proc.pid), time.monotonic()
    time.sleep(seconds)
    usage = TreeSample.take(up.proc.pid).since(before, time.monotonic() - t0)
    return {k: round(v, 1) for k, v in usage.cpu_pct.items()}


def soak(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Start journeys up, load it, sample it, stop it; the results document."""
    env = dict(item.split("=", 1) for item in args.env)
    up = UpProcess(work / "data", args.demo_customers, env)
    try:
        ready = up.wait_for(
            READY_PREFIX,
            args.ready_timeout,
            lambda text: console.print(f"[dim]journeys up:[/] {escape(text)}", soft_wrap=True),
        )
        version = up.broker_version()
        broker = {"version": version, "label": f"Apache Kafka {version}"}
        console.print(
            f"[bold]ready[/]: {broker['label']}; {args.rate:g} req/s for "
            f"{args.minutes:g} min, a row every {args.bucket:g} s"
        )
        plan = Plan(
            targets=[up.target],
            api_key=up.api_key(),
            mode="open",
            rate=args.rate,
            warmup_s=args.warmup,
            duration_s=args.minutes * 60,
            connections=args.connections,
            timeout_s=args.timeout,
            customers=args.demo_customers,
            cpu=None if args.loadgen_cpu < 0 else args.loadgen_cpu,
            bucket_s=args.bucket,
        )
        result, sampler = drive(plan, up)
        idle = idle_cpu(up, args.idle) if args.idle > 0 else {}
        events = [
            {"at_s": round(line.at - sampler.t0, 3), "text": line.text}
            for line in up.lines_since(ready.at)
            if line.at > ready.at
        ]
    finally:
        code = up.stop()
        console.print(f"[dim]journeys up stopped (exit {code})[/]")
    return {
        "broker": broker,
        "buckets": result.pop("buckets"),
        "unanswered_per_second": result.pop("unanswered_per_second"),
        "samples": sampler.samples,
        "events": events,
        "idle_cpu_pct": idle,
        "overall": result,
        "journeys_up_exit": code,
        "journeys_up_output": up.output().splitlines(),
    }


def keep_logs(logs: Path, into: Path) -> None:
    """Gzip the stack's logs into the results (they log every request: tens of MB a run)."""
    into.mkdir(parents=True, exist_ok=True)
    for log in sorted(logs.glob("*.log")):
        with log.open("rb") as src, gzip.open(into / f"{log.name}.gz", "wb") as dst:
            shutil.copyfileobj(src, dst)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    machine = machine_info()
    console.print(
        f"[bold]machine[/] {machine['cpu_model']}, {machine['cpus']} CPUs, "
        f"load {machine['loadavg_before']}"
    )
    with tempfile.TemporaryDirectory(prefix="soak-") as work:
        try:
            document = soak(args, Path(work))
        except (RuntimeError, TimeoutError) as exc:
            console.print(f"[red]error:[/] {exc}")
            return 1
        out_dir = args.out / f"soak-{started:%Y%m%dT%H%M%SZ}"
        keep_logs(Path(work) / "data" / "logs", out_dir / "logs")
    machine["loadavg_after"] = loadavg()
    config = {k: str(v) for k, v in vars(args).items() if k != "out"}
    config |= {"bucket_s": args.bucket, "rate": args.rate, "minutes": args.minutes}
    document |= {"started_at": started.isoformat(), "machine": machine, "config": config}
    write_report(document, out_dir, console)
    console.print(f"results in {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
