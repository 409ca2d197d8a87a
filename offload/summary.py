"""What a finished job reports: rows, bytes, time and throughput."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class JobSummary:
    """The outcome of one run of a job."""

    job: str
    rows: int
    bytes: int
    seconds: float
    finished_at: datetime
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_per_s(self) -> float:
        """Rows moved per second of wall time."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    @property
    def mb_per_s(self) -> float:
        """Parquet megabytes (10^6 bytes) written per second of wall time."""
        return self.bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0
