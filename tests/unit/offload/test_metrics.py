"""The jobs' Prometheus textfile."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from offload import JobSummary, write_job_metrics
from tests.support.metrics_scrape import parse


def test_metrics_file_holds_rows_duration_and_last_success_of_the_job(tmp_path: Path) -> None:
    finished = datetime(2026, 11, 21, 2, 0, 5, tzinfo=UTC)
    summary = JobSummary("nightly", rows=1_000, bytes=2_000, seconds=4.0, finished_at=finished)
    path = write_job_metrics(tmp_path / "metrics", summary)
    assert path.name == "journeys_offload_nightly.prom"
    samples = parse(path.read_text())
    assert samples.value("journeys_offload_rows", offload_job="nightly") == 1_000
    assert samples.value("journeys_offload_duration_seconds", offload_job="nightly") == 4.0
    assert samples.value("journeys_offload_rows_per_second", offload_job="nightly") == 250.0
    last_success = "journeys_offload_last_success_timestamp_seconds"
    assert samples.value(last_success, offload_job="nightly") == finished.timestamp()
    assert list(path.parent.iterdir()) == [path]  # written atomically, no temporary left
