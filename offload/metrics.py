"""Prometheus metrics of the offload jobs, as textfile-collector files.

The jobs are batch processes, not servers, so nothing scrapes them directly. After each
successful run a job writes ``<metrics_dir>/journeys_offload_<job>.prom`` (atomically, via
``prometheus_client.write_to_textfile``); node_exporter's textfile collector
(``--collector.textfile.directory=<metrics_dir>``) exposes it. A failed run leaves the file
untouched, so ``journeys_offload_last_success_timestamp_seconds`` ages and alerts can fire on
``time() - journeys_offload_last_success_timestamp_seconds{offload_job="nightly"} > 26*3600``.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

from offload.summary import JobSummary


def write_job_metrics(directory: Path, summary: JobSummary) -> Path:
    """Write the gauges of one successful run; returns the file written."""
    registry = CollectorRegistry()
    labels = ["offload_job"]
    gauges = {
        "journeys_offload_last_success_timestamp_seconds": (
            "Unix time the job last finished successfully",
            summary.finished_at.timestamp(),
        ),
        "journeys_offload_rows": ("Rows the last successful run moved", summary.rows),
        "journeys_offload_bytes": ("Parquet bytes the last successful run wrote", summary.bytes),
        "journeys_offload_duration_seconds": (
            "Wall time of the last successful run",
            summary.seconds,
        ),
        "journeys_offload_rows_per_second": (
            "Throughput of the last successful run",
            summary.rows_per_s,
        ),
    }
    for name, (documentation, value) in gauges.items():
        Gauge(name, documentation, labels, registry=registry).labels(summary.job).set(value)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"journeys_offload_{summary.job}.prom"
    write_to_textfile(str(path), registry)
    return path
