"""A store server for the store benchmarks: ``journeys store serve`` in a subprocess, seeded.

bench/store_bench.py, store_cache_bench.py and store_backends_bench.py measure the DuckDB store
server over Arrow Flight through :class:`Server`, and grow its table with
:func:`seed_journeys`.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from rich.console import Console

from devstack.processes import free_port, journeys_command, stop_process_group
from store import JourneyStore, StoreClient, StoreError, generate_journeys

console = Console()


class Server:
    """``journeys store serve`` on ``db`` in a subprocess, ready when constructed; ``stop()``."""

    def __init__(
        self, db: Path, tokens: dict[str, str], log: Path, extra_env: dict[str, str] | None = None
    ) -> None:
        self.port = free_port()
        self.url = f"grpc://127.0.0.1:{self.port}"
        env = {**os.environ, **(extra_env or {})}
        env.update({f"JOURNEYS_STORE_{r.upper()}_TOKENS": t for r, t in tokens.items()})
        self.proc = subprocess.Popen(
            journeys_command("store", "serve", "--db", str(db), "--port", str(self.port)),
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
        # A clean stop checkpoints the WAL of a large database: give it time.
        stop_process_group(self.proc, timeout=120)


def seed_journeys(client: JourneyStore, journeys: int, start_customer: int, label: str) -> float:
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
