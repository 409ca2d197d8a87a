"""Run a handful of child processes, each in its own process group, and stop them all.

Used by ``journeys up``: children are started in order, each waits until ready (with a
timeout), and they are stopped in reverse order with SIGTERM, then SIGKILL after a grace
period. A child that dies while the stack runs is restarted after a backoff (0.5 s, 1 s, 2 s,
5 s…); only a child that crashes too often (:class:`RestartPolicy`: 5 times within 60 s) makes
the supervisor give up and the caller stop the rest.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from journeys.devstack.errors import ChildExited, ChildNotReady
from journeys.devstack.processes import stop_process_group

log = logging.getLogger(__name__)


def http_ok(url: str, headers: Mapping[str, str] | None = None) -> Callable[[], bool]:
    """A readiness probe: GET ``url`` answers 200 (an error means "not yet", see Child)."""

    def probe() -> bool:
        return httpx.get(url, headers=headers, timeout=2.0).status_code == 200

    return probe


@dataclass
class Child:
    """One supervised process: its command, environment, log file and readiness probe."""

    name: str
    argv: Sequence[str]
    log_path: Path
    env: Mapping[str, str] = field(default_factory=dict)
    ready: Callable[[], bool] | None = None
    ready_timeout_s: float = 60.0
    proc: subprocess.Popen[bytes] | None = None
    #: Called after a restart (e.g. the broker's: recreate the topics it lost).
    after_restart: Callable[[], None] | None = None
    crashes: deque[float] = field(default_factory=deque)

    def start(self) -> None:
        """Start the process with stdout/stderr appended to its log file."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(  # noqa: S603 (our own argv list, no shell)
                list(self.argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
                start_new_session=True,  # our own group: Ctrl-C reaches us, we stop children
            )

    def exit_code(self) -> int | None:
        """None while running, else the exit code."""
        return None if self.proc is None else self.proc.poll()

    def wait_ready(self) -> None:
        """Poll the readiness probe until it passes, the child dies, or the timeout expires."""
        deadline = time.monotonic() + self.ready_timeout_s
        while True:
            code = self.exit_code()
            if code is not None:
                raise ChildExited(self.name, code, self.log_tail())
            if self.ready is None or self._probe():
                return
            if time.monotonic() > deadline:
                raise ChildNotReady(self.name, self.ready_timeout_s, self.log_tail())
            time.sleep(0.1)

    def _probe(self) -> bool:
        if self.ready is None:
            return True
        try:
            return self.ready()
        except Exception:  # a probe that raises simply means "not yet"
            return False

    def stop(self, grace_s: float) -> None:
        """SIGTERM the process group, wait up to ``grace_s``, then SIGKILL."""
        if self.proc is not None:
            stop_process_group(self.proc, grace_s)

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the child's log, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass(frozen=True)
class RestartPolicy:
    """How crashed children are restarted, and when to give up."""

    max_crashes: int = 5
    window_s: float = 60.0
    backoff_s: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0)

    def backoff(self, recent_crashes: int) -> float:
        """The wait before restarting a child that crashed ``recent_crashes`` times lately."""
        return self.backoff_s[min(max(recent_crashes - 1, 0), len(self.backoff_s) - 1)]


#: Called when a child is restarted: (child, its exit code, the backoff before restarting).
OnRestart = Callable[[Child, int, float], None]


class Supervisor:
    """Starts children in order, restarts the ones that crash, and stops them all in reverse
    order, on every path."""

    def __init__(self, grace_s: float = 15.0, policy: RestartPolicy | None = None) -> None:
        self.grace_s = grace_s
        self.policy = policy or RestartPolicy()
        self.children: list[Child] = []

    def start(self, child: Child, on_starting: Callable[[str], None] | None = None) -> None:
        """Start ``child`` and block until it is ready; stop it again if it never gets there."""
        if on_starting is not None:
            on_starting(child.name)
        self.children.append(child)
        child.start()
        child.wait_ready()

    def first_exited(self) -> Child | None:
        """A child that has exited on its own, if any."""
        for child in self.children:
            if child.exit_code() is not None:
                return child
        return None

    def watch(
        self,
        stop_requested: Callable[[], bool],
        interval_s: float = 0.5,
        on_restart: OnRestart | None = None,
    ) -> Child | None:
        """Block until a stop is requested (returns None) or a child crashed more often than
        the policy allows (returns it); restart every other crashed child after a backoff."""
        while not stop_requested():
            dead = self.first_exited()
            if dead is not None and not self._restart(dead, on_restart):
                return dead
            time.sleep(interval_s)
        return None

    def _restart(self, child: Child, on_restart: OnRestart | None) -> bool:
        """Restart ``child`` unless it crashed too often; False means give up."""
        now = time.monotonic()
        child.crashes.append(now)
        while child.crashes and now - child.crashes[0] > self.policy.window_s:
            child.crashes.popleft()
        if len(child.crashes) > self.policy.max_crashes:
            return False
        backoff = self.policy.backoff(len(child.crashes))
        if on_restart is not None:
            on_restart(child, child.exit_code() or 0, backoff)
        time.sleep(backoff)
        child.start()  # not waiting for readiness: the others keep being watched meanwhile
        if child.after_restart is not None:
            try:
                child.after_restart()
            except Exception:  # a failed hook must not stop the stack; the log says why
                log.exception("%s: after-restart step failed", child.name)
        return True

    def stop_all(self, on_stopping: Callable[[str], None] | None = None) -> None:
        """Stop every started child, newest first."""
        for child in reversed(self.children):
            if on_stopping is not None:
                on_stopping(child.name)
            child.stop(self.grace_s)
        self.children.clear()
