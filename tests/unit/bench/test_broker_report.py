"""The brokers-side-by-side report: its arithmetic and the docs block (no timing measured)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from bench import broker_report
from bench.bench_report import replace_block
from bench.proc_cpu import CpuSample, process_cpu_s, threads_cpu_s


def _phase(
    path: str,
    rate: float | None,
    achieved: float,
    p50: float,
    p99: float | None,
    cpu: dict[str, float],
    statuses: dict[str, int] | None = None,
) -> dict[str, Any]:
    return {
        "path": path,
        "mode": "open" if rate is not None else "closed",
        "offered_rps": rate,
        "achieved_rps": achieved,
        "requests": int(achieved * 10),
        "statuses": statuses or {"200": int(achieved * 10)},
        "latency_ms": {"p50": p50, "p90": p50, "p99": p99, "p99.9": p99},
        "lateness_ms": {"p50": 0.0, "p99": 0.0, "max": 0.0},
        "loadgen_cpu_pct": 1.0,
        "cpu_pct": cpu,
    }


def _document(kind: str, label: str, broker_cpu: float) -> dict[str, Any]:
    return {
        "broker": {"kind": kind, "version": "x", "label": label},
        "warm_s": 5.0 if kind == "tansu" else 60.0,
        "machine": {"loadavg_before": [1.0, 1.0, 1.0], "loadavg_after": [2.0, 1.0, 1.0]},
        "idle_cpu_pct": {
            "broker": broker_cpu / 10,
            "gateway-0": 3.0,
            "responder-0": 2.0,
            "store": 1.0,
            "direct": 0.5,
            "machine": 7.0,
        },
        "phases": [
            _phase("direct", 50, 50, 5.0, 10.0, {"store": 20.0, "direct": 30.0}),
            _phase(
                "kafka",
                50,
                50,
                10.0,
                30.0,
                {
                    "broker": broker_cpu,
                    "jit": broker_cpu / 4,
                    "gateway-0": 10.0,
                    "responder-0": 5.0,
                    "store": 5.0,
                    "direct": 0.0,
                    "loadgen": 2.0,
                    "machine": 40.0,
                },
            ),
            _phase("kafka", 500, 400, 50.0, None, {"broker": 80.0}, {"200": 4000, "timeout": 7}),
            _phase("kafka", None, 300, 20.0, 60.0, {"broker": 90.0}),
        ],
    }


DOCUMENTS = [_document("tansu", "Tansu 0.6.0", 20.0), _document("apache", "Apache Kafka 9", 40.0)]


def _row(rows: list[list[str]], rate: str, measure: str) -> list[str]:
    current = ""
    for row in rows:
        current = row[0] or current
        if current == rate and row[1] == measure:
            return row[2:]
    raise AssertionError(f"no row {rate} {measure}")


def test_cpu_ms_per_request_is_percent_of_a_core_times_ten_over_the_rate() -> None:
    phase = DOCUMENTS[0]["phases"][1]
    assert broker_report.cpu_ms_per_request(phase, ("broker",)) == pytest.approx(4.0)
    # Every gateway-N counts under "gateway"; the SUT leaves the load generator and machine out.
    assert broker_report.cpu_ms_per_request(phase, ("gateway",)) == pytest.approx(2.0)
    assert broker_report.cpu_ms_per_request(phase, broker_report.SUT) == pytest.approx(8.0)
    assert broker_report.cpu_ms_per_request(phase, ("nothing",)) is None


def test_header_names_each_broker_with_its_version() -> None:
    assert broker_report.header(DOCUMENTS) == ["req/s", "measure", "Tansu 0.6.0", "Apache Kafka 9"]


def test_rows_put_the_brokers_side_by_side_per_rate() -> None:
    rows = broker_report.side_by_side(DOCUMENTS)
    assert _row(rows, "50", "p50 / p99 ms") == ["10.00 / 30.00", "10.00 / 30.00"]
    assert _row(rows, "50", "baseline p50 / p99 ms") == ["5.00 / 10.00", "5.00 / 10.00"]
    assert _row(rows, "50", "÷ baseline p50 / p99") == ["x2.00 / x3.00", "x2.00 / x3.00"]
    assert _row(rows, "50", "CPU ms/req broker") == ["4.00", "8.00"]
    assert _row(rows, "50", "… of which JIT compiler") == ["1.00", "2.00"]
    assert _row(rows, "50", "CPU ms/req loadgen") == ["0.40", "0.40"]
    assert _row(rows, "50", "CPU ms/req all but loadgen") == ["8.00", "12.00"]


def test_errors_and_unanswered_percentiles_show_and_missing_baselines_do_not_divide() -> None:
    rows = broker_report.side_by_side(DOCUMENTS)
    assert _row(rows, "500", "answered req/s") == ["400 (7 errors)", "400 (7 errors)"]
    assert _row(rows, "500", "p50 / p99 ms") == ["50.00 / ∞", "50.00 / ∞"]
    assert _row(rows, "500", "baseline p50 / p99 ms") == ["not run", "not run"]
    assert _row(rows, "500", "÷ baseline p50 / p99") == ["-", "-"]


def test_closed_loop_and_idle_rows() -> None:
    rows = broker_report.side_by_side(DOCUMENTS)
    assert _row(rows, "closed", "most answered req/s (closed loop)") == [
        "300 (p99 60.00 ms)",
        "300 (p99 60.00 ms)",
    ]
    assert _row(rows, "idle", "CPU % broker") == ["2.0", "4.0"]
    assert _row(rows, "idle", "CPU % gateway") == ["3.0", "3.0"]


def test_markdown_table_carries_the_command_machine_and_load() -> None:
    document = {
        "started_at": "2026-01-01T00:00:00+00:00",
        "config": {"command": "python bench/e2e_bench.py --brokers tansu,apache"},
        "machine": {
            "cpu_model": "CPU",
            "cpus": 2,
            "memory_gib": 4.0,
            "kernel": "6",
            "python": "3.11",
        },
        "brokers": DOCUMENTS,
    }
    text = broker_report.markdown_table(document)
    assert "`python bench/e2e_bench.py --brokers tansu,apache`" in text
    assert "| req/s | measure | Tansu 0.6.0 | Apache Kafka 9 |" in text
    assert "Tansu 0.6.0 [1.0, 1.0, 1.0] → [2.0, 1.0, 1.0]" in text
    assert "warm-up on the Kafka path before the idle measurement: Tansu 0.6.0 5 s," in text


def test_replace_block_rewrites_only_its_own_markers(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "head\n<!-- a:begin -->old a<!-- a:end -->\nmid\n<!-- b:begin -->old b<!-- b:end -->\n"
    )
    replace_block(doc, "b", "\nnew b\n")
    assert doc.read_text() == (
        "head\n<!-- a:begin -->old a<!-- a:end -->\nmid\n<!-- b:begin -->\nnew b\n<!-- b:end -->\n"
    )
    with pytest.raises(ValueError, match="no <!-- c:begin -->"):
        replace_block(doc, "c", "x")


def test_jit_threads_are_counted_apart_and_only_for_the_broker() -> None:
    sample = CpuSample.take({"broker": os.getpid(), "store": os.getpid()})
    # This Python process has no JVM compiler threads: its JIT share is zero, not missing.
    assert sample.processes["jit"] == 0.0
    assert set(sample.processes) == {"broker", "store", "jit"}
    assert "jit" not in CpuSample.take({"store": os.getpid()}).processes


def test_thread_cpu_sums_the_named_threads_of_a_live_process_only() -> None:
    everything = threads_cpu_s(os.getpid(), ("",))
    process = process_cpu_s(os.getpid())  # read after: it counts every thread, ended ones too
    assert everything is not None
    assert process is not None
    assert 0.0 < everything <= process  # starting pytest alone takes more than one tick
    assert threads_cpu_s(os.getpid(), ("no thread is called this",)) == 0.0
    assert threads_cpu_s(2**22 + 12345, ("",)) is None  # above any pid_max Linux allows (2**22)
