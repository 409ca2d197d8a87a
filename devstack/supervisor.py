"""Run a handful of child processes, each in its own process group, and stop them all.

Used by ``journeys up``: children are started in order, each waits until ready (with a
timeout), and they are stopped in reverse order with SIGTERM, then SIGKILL after a grace
period. A child that dies while the stack runs is restarted after a backoff (0.5 s, 1 s, 2 s,
5 s…); only a child that crashes too often (:class:`RestartPolicy`: 5 times within 60 s) makes
the supervisor give up and the caller stop the rest.

The watch loop is single-threaded: a crash restart (the broker's pauses the Kafka clients with
SIGSTOP, see broker_restart.py) never runs beside another, and a paused child is not an exited
one, so restarts never fight over a process.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx

from devstack.errors import StackError

log = logging.getLogger(__name__)


def http_ok(url: str, headers: Mapping[str, str] | None = None) -> Callable[[], bool]:
    """A readiness probe: GET ``url`` answers 200 (an error means "not yet", see ChildProcess)."""

    def probe() -> bool:
        return httpx.get(url, headers=headers, timeout=2.0).status_code == 200

    return probe


class Supervised(Protocol):
    """What the supervisor runs: a :class:`ChildProcess` or the local broker."""

    name: str
    log_path: Path

    def start(self) -> object:
        """Start and block until ready (raise when it never gets there)."""

    def exit_code(self) -> int | None:
        """None while running, else the exit code."""

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop (SIGTERM, then SIGKILL after ``timeout``)."""


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
OnRestart = Callable[[Supervised, int, float], None]
#: Brings a crashed child back (default :func:`relaunch`); raises :class:`StackError` on failure.
Restart = Callable[[Supervised], None]


def relaunch(child: Supervised) -> None:
    """Start a crashed child again: without waiting for readiness when it can (a
    :class:`ChildProcess`'s ``launch``, so the others keep being watched), else ``start``."""
    launch = getattr(child, "launch", None)
    if callable(launch):
        launch()
    else:
        child.start()


class Supervisor:
    """Starts children in order, restarts the ones that crash, and stops them all in reverse
    order, on every path."""

    def __init__(self, grace_s: float = 15.0, policy: RestartPolicy | None = None) -> None:
        self.grace_s = grace_s
        self.policy = policy or RestartPolicy()
        self.children: list[Supervised] = []
        self._crashes: dict[int, deque[float]] = {}  # id(child) → recent crash times

    def start(self, child: Supervised, on_starting: Callable[[str], None] | None = None) -> None:
        """Start ``child`` and block until it is ready (its own start stops it on failure)."""
        if on_starting is not None:
            on_starting(child.name)
        child.start()
        self.children.append(child)

    def first_exited(self) -> Supervised | None:
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
        restart: Restart = relaunch,
    ) -> Supervised | None:
        """Block until a stop is requested (returns None) or a child crashed more often than
        the policy allows (returns it); restart every other crashed child after a backoff.
        """
        while not stop_requested():
            dead = self.first_exited()
            if dead is not None and not self._restart(dead, on_restart, restart):
                return dead
            time.sleep(interval_s)
        return None

    def _restart(self, child: Supervised, on_restart: OnRestart | None, restart: Restart) -> bool:
        """Restart ``child`` unless it crashed too often; False means give up."""
        code = child.exit_code() or 0
        while self._note_crash(child):
            backoff = self.policy.backoff(len(self._crashes[id(child)]))
            if on_restart is not None:
                on_restart(child, code, backoff)
            time.sleep(backoff)
            try:
                restart(child)
            except StackError as exc:  # a restart that fails counts as one more crash
                log.warning("%s: restart failed: %s", child.name, exc)
                code = child.exit_code() or 1
                continue
            return True
        return False

    def _note_crash(self, child: Supervised) -> bool:
        """Record one crash; False when the child crashed more often than the policy allows."""
        now = time.monotonic()
        crashes = self._crashes.setdefault(id(child), deque())
        crashes.append(now)
        while crashes and now - crashes[0] > self.policy.window_s:
            crashes.popleft()
        return len(crashes) <= self.policy.max_crashes

    def stop_all(self, on_stopping: Callable[[str], None] | None = None) -> None:
        """Stop every started child, newest first."""
        for child in reversed(self.children):
            if on_stopping is not None:
                on_stopping(child.name)
            child.stop(self.grace_s)
        self.children.clear()
        self._crashes.clear()
