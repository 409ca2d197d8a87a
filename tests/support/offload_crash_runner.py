"""Runs one offload job and SIGKILLs itself at a step boundary (test-only fault injection).

    python -m tests.support.offload_crash_runner JOB RUN_DATE CRASH_AT [MUTATION.parquet]

Settings come from ``JOURNEYS_OFFLOAD_*`` as in production. With a mutation file, the rows in
it are upserted (token ``OFFLOAD_TEST_WRITER_TOKEN``) at the first boundary, i.e. after the
job's snapshot: they model a campaign system that re-opens or changes journeys meanwhile.
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import date

import pyarrow.parquet as pq

from offload import OffloadSettings, run_housekeeping, run_nightly
from store import StoreClient


class CrashingObserver:
    """Kills the process (SIGKILL: no cleanup, no finally) at the boundary ``crash_at``."""

    def __init__(self, crash_at: str, mutation: str | None, settings: OffloadSettings) -> None:
        self.crash_at = crash_at
        self.mutation = mutation
        self.settings = settings

    def step(self, name: str, total: int | None) -> None:
        """Ignore."""

    def advance(self, rows: int) -> None:
        """Ignore."""

    def checkpoint(self, name: str) -> None:
        """Mutate the store once, then die if this is the chosen boundary."""
        if self.mutation is not None:
            token = os.environ["OFFLOAD_TEST_WRITER_TOKEN"]
            with StoreClient(self.settings.store.url, token) as client:
                client.upsert(pq.read_table(self.mutation))
            self.mutation = None
        print(f"checkpoint {name}", flush=True)
        if name == self.crash_at:
            os.kill(os.getpid(), signal.SIGKILL)


def main(argv: list[str]) -> None:
    """Run the job named in ``argv``."""
    job, run_date, crash_at = argv[:3]
    settings = OffloadSettings()
    observer = CrashingObserver(crash_at, argv[3] if len(argv) > 3 else None, settings)
    runner = run_nightly if job == "nightly" else run_housekeeping
    runner(settings, date.fromisoformat(run_date), observer=observer)


if __name__ == "__main__":
    main(sys.argv[1:])
