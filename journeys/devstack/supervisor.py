"""Run a handful of child processes, each in its own process group, and stop them all.

Used by ``journeys up``: children are started in order, each waits until ready (with a
timeout), and they are stopped in reverse order with SIGTERM, then SIGKILL after a grace
period. If any child dies while the stack runs, the supervisor notices and stops the rest.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from journeys.devstack.errors import ChildExited, ChildNotReady
from journeys.devstack.processes import stop_process_group


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


class Supervisor:
    """Starts children in order and stops them in reverse order, on every path."""

    def __init__(self, grace_s: float = 15.0) -> None:
        self.grace_s = grace_s
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

    def watch(self, stop_requested: Callable[[], bool], interval_s: float = 0.5) -> Child | None:
        """Block until a stop is requested (returns None) or a child dies (returns it)."""
        while not stop_requested():
            dead = self.first_exited()
            if dead is not None:
                return dead
            time.sleep(interval_s)
        return None

    def stop_all(self, on_stopping: Callable[[str], None] | None = None) -> None:
        """Stop every started child, newest first."""
        for child in reversed(self.children):
            if on_stopping is not None:
                on_stopping(child.name)
            child.stop(self.grace_s)
        self.children.clear()
