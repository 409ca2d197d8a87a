"""The soak's arithmetic: intervals by due time, errors near events, processes by role."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pytest

from bench.load_math import bucket_summaries, count_statuses, unanswered_per_second
from bench.proc_tree import TreeSample, children_by_role, role_of
from bench.soak_report import event_windows, others_pct, rows, summary


def _ten_a_second_for_three_seconds() -> tuple[np.ndarray, np.ndarray, list[int | str]]:
    due = np.arange(30) / 10.0  # 0.0, 0.1, … 2.9
    latency = (np.arange(30) + 1) / 1000.0  # 1 ms, 2 ms, … 30 ms
    statuses: list[int | str] = [200] * 30
    statuses[12] = 504  # due at 1.2 s
    statuses[13] = "timeout"  # due at 1.3 s
    return due, latency, statuses


def test_requests_fall_in_the_interval_they_were_due_in() -> None:
    due, latency, statuses = _ten_a_second_for_three_seconds()
    answered = np.array([s == 200 for s in statuses])
    latency = np.where(answered, latency, math.inf)
    buckets = bucket_summaries(due, latency, statuses, answered, bucket_s=1.0)
    assert [(b["start_s"], b["end_s"]) for b in buckets] == [(0, 1), (1, 2), (2, 3)]
    assert [b["requests"] for b in buckets] == [10, 10, 10]
    assert [b["answered"] for b in buckets] == [10, 8, 10]
    assert buckets[1]["statuses"] == {"200": 8, "504": 1, "timeout": 1}
    first, middle, last = (b["latency_ms"] for b in buckets)
    assert first == {"p50": pytest.approx(5.0), "p99": pytest.approx(10.0), "max": 10.0}
    assert last["p50"] == pytest.approx(25.0)
    # Two of ten unanswered: p99 falls on one (None); max is the slowest answer (20 ms).
    assert middle["p99"] is None
    assert middle["max"] == pytest.approx(20.0)


def test_a_request_due_on_a_boundary_opens_the_next_interval() -> None:
    due = np.array([0.0, 0.999, 1.0, 2.5])
    ok = np.ones(4, dtype=bool)
    buckets = bucket_summaries(due, np.full(4, 0.001), [200] * 4, ok, bucket_s=1.0)
    assert [b["requests"] for b in buckets] == [2, 1, 1]


def test_an_interval_without_answers_has_no_latency() -> None:
    buckets = bucket_summaries(
        np.array([0.5]), np.array([math.inf]), ["timeout"], np.array([False]), bucket_s=1.0
    )
    assert buckets[0]["latency_ms"] == {"p50": None, "p99": None, "max": None}


def test_intervals_must_have_a_length() -> None:
    with pytest.raises(ValueError, match="positive"):
        bucket_summaries(np.array([0.0]), np.array([0.0]), [200], np.array([True]), bucket_s=0)


def test_unanswered_requests_are_counted_per_second_of_their_due_time() -> None:
    due, _, statuses = _ten_a_second_for_three_seconds()
    answered = np.array([s == 200 for s in statuses])
    assert unanswered_per_second(due, answered) == {"1": 2}
    assert count_statuses(statuses) == {"200": 28, "504": 1, "timeout": 1}


def _document(events: list[dict[str, Any]], unanswered: dict[str, int]) -> dict[str, Any]:
    def bucket(start: float, p99: float | None, statuses: dict[str, int]) -> dict[str, Any]:
        return {
            "start_s": start,
            "end_s": start + 60,
            "requests": sum(statuses.values()),
            "answered": statuses.get("200", 0),
            "statuses": statuses,
            "latency_ms": {"p50": 10.0, "p99": p99, "max": 90.0},
        }

    return {
        "config": {"bucket_s": 60, "rate": 300, "minutes": 2},
        "machine": {"cpus": 2},
        "broker": {"version": "4.4.0", "label": "Apache Kafka 4.4.0"},
        "buckets": [bucket(0, 40.0, {"200": 18_000}), bucket(60, 50.0, {"200": 17_990, "504": 10})],
        "samples": [
            {
                "start_s": 0,
                "end_s": 60,
                "rss_mb": {"broker": 117.4},
                "cpu_pct": {"broker": 10.2, "machine": 55.0},
            }
        ],
        "events": events,
        "unanswered_per_second": unanswered,
    }


def test_errors_near_a_restart_are_told_apart_from_the_others() -> None:
    restart = {"at_s": 100.0, "text": "responder exited with code -9; restarting in 0.5s"}
    assert event_windows([restart], margin_s=10.0) == [(90.0, 110.0)]
    # Second 90 overlaps the window, second 110 starts where it ends.
    document = _document([restart], {"89": 1, "90": 5, "109": 1, "110": 3})
    result = summary(document)
    assert result["errors"] == 10
    assert result["error_pct"] == pytest.approx(100 * 10 / 36_000)
    assert result["errors_in_event_windows"] == 6
    assert result["errors_outside_event_windows"] == 4
    assert result["p99_last_over_first"] == pytest.approx(1.25)
    assert result["p99_median_ms"] == pytest.approx(45.0)


def test_the_cpu_of_other_processes_is_the_machine_minus_ours() -> None:
    # Two cores 80 % busy = 160 % of one core; the soak's processes used 100 + 40 of it.
    cpu = {"broker": 100.0, "gateway": 40.0, "machine": 80.0}
    assert others_pct(cpu, cpus=2) == pytest.approx(20.0)
    assert others_pct({"broker": 10.0}, cpus=2) is None


def test_a_row_per_interval_with_every_process_and_the_events_in_it() -> None:
    document = _document([{"at_s": 61.0, "text": "gateway exited"}], {})
    first, second = rows(document)
    assert first[:7] == ["1", "18,000", "18,000", "0", "10.00", "40.00", "90"]
    assert first[7] == "117 / 10"  # broker MB / CPU %
    assert first[-3:] == ["55", "100", ""]  # machine 55 % of 2 cores = 110 %, 10 of it ours
    assert second[3] == "504: 10"
    assert second[7] == "- / -"  # no sample for that interval
    assert second[-1] == "1"


@pytest.mark.parametrize(
    ("argv", "role"),
    [
        (["/usr/bin/java", "-Xmx1g", "-cp", "x.jar", "kafka.Kafka", "server.properties"], "broker"),
        ([".venv/bin/python", "-m", "cli", "store", "serve", "--db", "x"], "store"),
        ([".venv/bin/python", "-m", "cli", "responder", "run"], "responder"),
        ([".venv/bin/python", "-m", "cli", "gateway", "serve"], "gateway"),
        (["/usr/bin/sleep", "30"], "sleep"),
    ],
)
def test_a_process_is_named_by_its_role(argv: list[str], role: str) -> None:
    assert role_of(argv) == role


def test_a_process_that_started_between_samples_counts_from_zero() -> None:
    earlier = TreeSample({1: 10.0}, {1: 100.0}, {1: "broker"}, 0.0, 0.0)
    later = TreeSample({1: 11.0, 2: 0.5}, {1: 100.0, 2: 20.0}, {1: "broker", 2: "broker"}, 0.0, 0.0)
    usage = later.since(earlier, wall_s=10.0)
    assert usage.cpu_pct["broker"] == pytest.approx(15.0)
    assert usage.rss_mb["broker"] == pytest.approx(120.0)


def test_children_are_found_under_their_parent_with_their_role() -> None:
    code = "import subprocess; subprocess.run(['sleep', '30'])"
    found: dict[int, str] = {}
    with subprocess.Popen([sys.executable, "-c", code]) as parent:
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and set(found.values()) != {"sleep"}:
                time.sleep(0.05)  # until the child has exec'd sleep
                found = children_by_role(parent.pid)
            assert set(found.values()) == {"sleep"}
            roles = TreeSample.take(parent.pid).roles
            assert roles[parent.pid] == "up"
            assert set(found) <= set(roles)
        finally:
            for pid in found:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            parent.kill()
