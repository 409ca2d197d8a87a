"""Offload throughput: seed N journeys into a real store server, run both jobs, print a table.

    .venv/bin/python bench/offload_bench.py [--journeys 5000000] [--runs 3]

Baseline (same process, same store): draining the store's snapshot scan without writing
anything — the ceiling any offload can reach. Each job's rows/s is reported against it.
The nightly snapshot runs ``--runs`` times (``force``: a fresh snapshot each time; medians and
min/max are shown); housekeeping moves the closed rows out of the store, so it runs once.
Target on a 2-core machine: ≥ 1M rows/s for the nightly snapshot. A second table splits each
job's wall time by step (write = store scan + Parquet encoding, audit, publish/purge, clean),
and the machine's load average is printed: on a shared 2-core box the figures move with it.

The nightly snapshot is the whole store table (open and closed-not-yet-moved journeys). Next
to it, in the same run and against the same store, ``--compare-with REF`` (default ``main``)
runs the nightly job of that git revision (``git archive`` of its packages into a temporary
directory, run in a subprocess: before issue 20 it offloaded the open journeys only) the same
number of times; the bound is the whole-table nightly at ≥ 0.9x its rows/s.

Last, Apache Iceberg's own Java library (``IcebergGenerics``, the CI reader test's reader,
jars from ``make iceberg-java``) reads both tables as a Spark- or Trino-style engine's
library would, and its rows/s (the scan's own time, JVM start excluded) is in the table.

Iceberg next to plain Parquet, in the same run: each nightly run is preceded by the same write
and audit without the Iceberg commit (``write_open_snapshot`` + ``audit_open_snapshot``: the
pre-Iceberg path's work minus its pointer-file switch). The bound: the Iceberg nightly keeps
≥ 0.9x that rate. Peak RSS is the benchmark process's (store server excluded).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from offload import (
    CLOSED_TABLE,
    CURRENT_TABLE,
    JobSummary,
    OffloadSettings,
    audit_open_snapshot,
    run_housekeeping,
    run_nightly,
    write_open_snapshot,
)
from store import generate_journeys
from tests.support.iceberg_java import run_java_reader
from tests.support.offload_lake import ANCHOR, offload_settings
from tests.support.offload_store import private_store

RUN_DATE = date(2026, 11, 21)
ROOT = Path(__file__).resolve().parents[1]
#: Runs the nightly job of another revision (on sys.path first) ``runs`` times; prints JSON.
_OTHER_NIGHTLY = """
import json, sys
from datetime import date
sys.path.insert(0, sys.argv[1])
from offload import OffloadSettings, run_nightly
settings = OffloadSettings()
run_nightly(settings, date(2026, 11, 21), force=True)  # warm-up: creates the tables
runs = [run_nightly(settings, date(2026, 11, 21), force=True) for _ in range(int(sys.argv[2]))]
print(json.dumps([[run.rows, run.seconds] for run in runs]))
"""


def _other_nightly(ref: str, root: Path, settings_env: dict[str, str], runs: int) -> list[float]:
    """The rows/s of ``runs`` nightly runs of the revision ``ref``, against the same store."""
    code = root / f"code-{ref.replace('/', '_')}"
    code.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "offload", "journeys", "store"],
        capture_output=True,
        check=True,
        timeout=120,
    )
    subprocess.run(["tar", "-x", "-C", str(code)], input=archive.stdout, check=True, timeout=120)
    done = subprocess.run(
        [sys.executable, "-c", _OTHER_NIGHTLY, str(code), str(runs)],
        env={**os.environ, **settings_env},
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
    )
    return [rows / seconds for rows, seconds in json.loads(done.stdout.splitlines()[-1])]


class StepTimer:
    """A JobObserver that records the wall time of each step of a job run."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._current: str | None = None
        self._started = 0.0

    def _close(self) -> None:
        if self._current is not None:
            elapsed = time.perf_counter() - self._started
            self.seconds[self._current] = self.seconds.get(self._current, 0.0) + elapsed
        self._current = None

    def step(self, name: str, total: int | None) -> None:
        self._close()
        self._current, self._started = name.split(" ")[0], time.perf_counter()

    def advance(self, rows: int) -> None:
        pass

    def checkpoint(self, name: str) -> None:
        pass

    def finish(self) -> dict[str, float]:
        self._close()
        return self.seconds


def _drain_scan(url: str, token: str, status: str) -> tuple[int, float]:
    from store import StoreClient

    started = time.perf_counter()
    rows = 0
    with StoreClient(url, token, timeout=60) as client:
        for batch in client.scan(status=status):
            rows += batch.num_rows
    return rows, time.perf_counter() - started


def _java_reads(settings: OffloadSettings) -> dict[str, tuple[int, float]]:
    """Rows and seconds of Apache Iceberg's Java library reading each table (count only)."""
    reads = [f"{name}!count" for name in (CURRENT_TABLE, CLOSED_TABLE)]
    done = run_java_reader(settings, *reads, timeout_s=1_800)
    if done.returncode != 0:
        raise SystemExit(f"the Iceberg Java reader failed: {done.stderr[-2000:]}")
    results = {}
    for line in done.stdout.splitlines():
        summary = json.loads(line)
        name = summary["read"].removesuffix("!count")
        results[name] = (int(summary["rows"]), max(summary["millis"], 1) / 1000)
    return results


def main() -> None:
    """Seed, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journeys", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--compare-with", default="main", help="git revision whose nightly runs alongside"
    )
    args = parser.parse_args()
    console = Console()

    with (
        tempfile.TemporaryDirectory(prefix="offload-bench-") as tmp,
        private_store(Path(tmp)) as store,
    ):
        root = Path(tmp)
        settings = offload_settings(root, url=store.url, token=store.tokens["offloader"])
        settings = settings.model_copy(update={"row_group_size": 1_000_000})
        started = time.perf_counter()
        seeded = 0
        with store.client("writer") as writer:
            for table in generate_journeys(args.journeys // 5, seed=42, anchor=ANCHOR):
                seeded += writer.upsert(table)
        seed_s = time.perf_counter() - started
        console.print(f"seeded {seeded:,} journeys in {seed_s:.1f}s ({seeded / seed_s:,.0f}/s)")

        token = store.tokens["offloader"]
        baseline = [_drain_scan(store.url, token, "all") for _ in range(args.runs)]
        load_before = os.getloadavg()
        nightly: list[JobSummary] = []
        nightly_steps: list[dict[str, float]] = []
        parquet_only: list[tuple[int, int, float]] = []  # rows, bytes, seconds
        other_env = {
            "JOURNEYS_OFFLOAD_LAKE_URI": str(root / "other-lake"),
            "JOURNEYS_OFFLOAD_CATALOG_PATH": str(root / "other.duckdb"),
            "JOURNEYS_OFFLOAD_REFRESH_CATALOG": "false",
            "JOURNEYS_OFFLOAD_METRICS_DIR": str(root / "other-metrics"),
            "JOURNEYS_OFFLOAD_ROW_GROUP_SIZE": "1000000",
            "JOURNEYS_OFFLOAD_STORE__URL": store.url,
            "JOURNEYS_OFFLOAD_STORE__TOKEN": token,
        }
        other_rates = _other_nightly(args.compare_with, root, other_env, args.runs)
        run_nightly(settings, RUN_DATE, force=True)  # warm-up, untimed: creates the tables
        for _ in range(args.runs):
            started = time.perf_counter()
            written = write_open_snapshot(settings, RUN_DATE, force=True)
            audit_open_snapshot(settings, written.path)
            parquet_only.append((written.rows, written.bytes, time.perf_counter() - started))
            timer = StepTimer()
            nightly.append(run_nightly(settings, RUN_DATE, force=True, observer=timer))
            nightly_steps.append(timer.finish())
        closed_baseline = _drain_scan(store.url, token, "closed")
        timer = StepTimer()
        housekeeping = run_housekeeping(settings, RUN_DATE, observer=timer)
        housekeeping_steps = timer.finish()
        # With journeys_closed no longer empty, publish also compares the two tables' keys.
        after_move = run_nightly(settings, RUN_DATE, force=True)
        load_after = os.getloadavg()
        java_reads = _java_reads(settings)

    base_rate = statistics.median(rows / seconds for rows, seconds in baseline)
    closed_rate = closed_baseline[0] / closed_baseline[1]
    parquet_rates = [rows / seconds for rows, _, seconds in parquet_only]
    parquet_mb = [size / seconds / 1e6 for _, size, seconds in parquet_only]
    table = Table(title=f"offload throughput, {seeded:,} journeys seeded (2 cores)")
    for column in ("what", "rows", "seconds", "rows/s (median)", "min-max rows/s", "MB/s",
                   "vs scan baseline"):  # fmt: skip
        table.add_column(column, justify="right" if column != "what" else "left")
    rates = [run.rows_per_s for run in nightly]
    table.add_row(
        "baseline: drain the whole scan",
        f"{baseline[0][0]:,}",
        f"{statistics.median(s for _, s in baseline):.2f}",
        f"{base_rate:,.0f}",
        "",
        "",
        "1.00",
    )
    table.add_row(
        f"Parquet files only, no commit ({args.runs} runs)",
        f"{parquet_only[0][0]:,}",
        f"{statistics.median(s for _, _, s in parquet_only):.2f}",
        f"{statistics.median(parquet_rates):,.0f}",
        f"{min(parquet_rates):,.0f}-{max(parquet_rates):,.0f}",
        f"{statistics.median(parquet_mb):,.1f}",
        f"{statistics.median(parquet_rates) / base_rate:.2f}",
    )
    median_run = sorted(nightly, key=lambda run: run.rows_per_s)[len(nightly) // 2]
    table.add_row(
        f"nightly snapshot ({args.runs} runs)",
        f"{median_run.rows:,}",
        f"{statistics.median(run.seconds for run in nightly):.2f}",
        f"{statistics.median(rates):,.0f}",
        f"{min(rates):,.0f}-{max(rates):,.0f}",
        f"{statistics.median(run.mb_per_s for run in nightly):,.1f}",
        f"{statistics.median(rates) / base_rate:.2f}",
    )
    table.add_row(
        f"nightly of {args.compare_with} ({args.runs} runs)",
        "",
        "",
        f"{statistics.median(other_rates):,.0f}",
        f"{min(other_rates):,.0f}-{max(other_rates):,.0f}",
        "",
        f"{statistics.median(other_rates) / base_rate:.2f}",
    )
    table.add_row(
        "baseline: drain closed scan",
        f"{closed_baseline[0]:,}",
        f"{closed_baseline[1]:.2f}",
        f"{closed_rate:,.0f}",
        "",
        "",
        "1.00",
    )
    table.add_row(
        "weekend housekeeping (1 run)",
        f"{housekeeping.rows:,}",
        f"{housekeeping.seconds:.2f}",
        f"{housekeeping.rows_per_s:,.0f}",
        "",
        f"{housekeeping.mb_per_s:,.1f}",
        f"{housekeeping.rows_per_s / closed_rate:.2f}",
    )
    table.add_row(
        "nightly after housekeeping (1 run, closed table filled)",
        f"{after_move.rows:,}",
        f"{after_move.seconds:.2f}",
        f"{after_move.rows_per_s:,.0f}",
        "",
        f"{after_move.mb_per_s:,.1f}",
        "",
    )
    for name, (rows, seconds) in java_reads.items():
        table.add_row(
            f"Iceberg Java library reads {name}", f"{rows:,}", f"{seconds:.2f}",
            f"{rows / seconds:,.0f}", "", "", "",
        )  # fmt: skip
    console.print(table)
    steps = Table(title="seconds per step (nightly: median over runs)")
    for column in ("job", "step", "seconds", "share"):
        steps.add_column(column, justify="left" if column in ("job", "step") else "right")
    median_steps = {
        name: statistics.median(run.get(name, 0.0) for run in nightly_steps)
        for name in nightly_steps[0]
    }
    for job, timed in (("nightly", median_steps), ("housekeeping", housekeeping_steps)):
        total = sum(timed.values()) or 1.0
        for name, seconds in timed.items():
            steps.add_row(job, name, f"{seconds:.2f}", f"{seconds / total:.0%}")
    console.print(steps)
    console.print(
        f"load average (1 min) before/after the jobs: {load_before[0]:.1f} / {load_after[0]:.1f}"
        f" on {os.cpu_count()} cores"
    )
    target = "met" if statistics.median(rates) >= 1_000_000 else "NOT met"
    console.print(f"nightly target ≥ 1,000,000 rows/s: {target}")
    versus = statistics.median(rates) / statistics.median(other_rates)
    bound = "met" if versus >= 0.9 else "NOT met"
    console.print(
        f"whole-table nightly / nightly of {args.compare_with}: {versus:.2f}x rows/s "
        f"(bound ≥ 0.90x: {bound})"
    )
    ratio = statistics.median(rates) / statistics.median(parquet_rates)
    bound = "met" if ratio >= 0.9 else "NOT met"
    console.print(f"Iceberg nightly / Parquet files only: {ratio:.2f}x (bound ≥ 0.90x: {bound})")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    console.print(f"peak RSS of the benchmark process: {peak_mib:,.0f} MiB")


if __name__ == "__main__":
    main()
