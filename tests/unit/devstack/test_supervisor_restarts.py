"""The supervisor restarts a crashed child, and gives up only when it crashes too often."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from devstack.child_process import ChildProcess
from devstack.supervisor import RestartPolicy, Supervisor

FAST = RestartPolicy(max_crashes=3, window_s=60.0, backoff_s=(0.0,))


def child(tmp_path: Path, code: str, name: str = "child") -> ChildProcess:
    return ChildProcess(name, [sys.executable, "-c", code], tmp_path / f"{name}.log")


def test_a_crashed_child_is_restarted_and_the_restart_is_reported(tmp_path: Path) -> None:
    supervisor = Supervisor(grace_s=2.0, policy=FAST)
    sleeper = child(tmp_path, "import time; time.sleep(60)")
    supervisor.start(sleeper)
    first = sleeper.proc
    assert first is not None
    first.kill()
    first.wait(timeout=10)
    restarts: list[tuple[str, int]] = []
    give_up_at = time.monotonic() + 20

    def restarted_or_late() -> bool:
        return bool(restarts) or time.monotonic() > give_up_at

    try:
        dead = supervisor.watch(
            restarted_or_late,
            interval_s=0.05,
            on_restart=lambda c, code, _b: restarts.append((c.name, code)),
        )
        assert dead is None
        assert restarts == [("child", -9)]
        assert sleeper.proc is not first
        assert sleeper.exit_code() is None, "the restarted child runs"
    finally:
        supervisor.stop_all()


def test_a_child_crashing_too_often_makes_the_supervisor_give_up(tmp_path: Path) -> None:
    supervisor = Supervisor(grace_s=2.0, policy=FAST)
    crasher = child(tmp_path, "raise SystemExit(3)", "crasher")
    supervisor.start(crasher)
    restarts: list[int] = []
    give_up_at = time.monotonic() + 30
    try:
        dead = supervisor.watch(
            lambda: time.monotonic() > give_up_at,
            interval_s=0.05,
            on_restart=lambda _c, code, _b: restarts.append(code),
        )
        assert dead is crasher
        assert restarts == [3, 3, 3]  # max_crashes restarts, then the fourth crash gives up
    finally:
        supervisor.stop_all()


def test_the_backoff_grows_with_recent_crashes() -> None:
    policy = RestartPolicy(backoff_s=(0.5, 1.0, 2.0))
    assert [policy.backoff(n) for n in (1, 2, 3, 4, 9)] == [0.5, 1.0, 2.0, 2.0, 2.0]
