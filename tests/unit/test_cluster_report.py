"""The cluster scenarios' report (tests/cluster/report.py): answers by status and wrong answers
second by second, beside the counters."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos import load
from tests.chaos.load import LoadReport, Outcome
from tests.cluster.report import CounterSampler, publish


def test_the_report_has_answers_by_status_and_wrong_answers_per_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(load, "ARTIFACTS", tmp_path)
    report = LoadReport("unit-report", 10.0)
    report.outcomes += [
        Outcome(0.2, 200, 0.01, wrong=False, rerouted=False),
        Outcome(0.7, 503, 0.5, wrong=False, rerouted=False),
        Outcome(1.1, 200, 0.02, wrong=True, rerouted=False),
        Outcome(1.5, None, 2.5, wrong=False, rerouted=True),
    ]
    sampler = CounterSampler([], [])
    sampler.samples = [(0.0, {"hedges": 0.0}), (1.2, {"hedges": 3.0})]

    summary = publish(report, sampler, {"killed_at_s": 0.5})

    assert summary["status_per_s"] == {0: {"200": 1, "503": 1}, 1: {"200": 1, "unanswered": 1}}
    assert summary["wrong_per_s"] == {1: 1}
    assert summary["sent_per_s"] == {0: 2, 1: 2}
    assert summary["counters"] == {"hedges": 3.0}
    assert summary["counters_per_s"] == {"hedges": {1: 3.0}}
    assert (tmp_path / "unit-report.json").exists()
