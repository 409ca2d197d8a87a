"""Run a handful of child processes, each in its own process group, and stop them all.

Used by ``journeys up``: children are started in order, each waits until ready (with a
timeout), and they are stopped in reverse order with SIGTERM, then SIGKILL after a grace
period. If any child dies while the stack runs, the supervisor notices and stops the rest.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

import httpx


def http_ok(url: str, headers: Mapping[str, str] | None = None) -> Callable[[], bool]:
    """A readiness probe: GET ``url`` answers 200 (an error means "not yet", see ChildProcess)."""

    def probe() -> bool:
        return httpx.get(url, headers=headers, timeout=2.0).status_code == 200

    return probe


class Supervised(Protocol):
    """What the supervisor runs: a :class:`ChildProcess` or a local broker."""

    name: str
    log_path: Path

    def start(self) -> object:
        """Start and block until ready (raise when it never gets there)."""

    def exit_code(self) -> int | None:
        """None while running, else the exit code."""

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop (SIGTERM, then SIGKILL after ``timeout``)."""


class Supervisor:
    """Starts children in order and stops them in reverse order, on every path."""

    def __init__(self, grace_s: float = 15.0) -> None:
        self.grace_s = grace_s
        self.children: list[Supervised] = []

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
        tick: Callable[[], None] | None = None,
    ) -> Supervised | None:
        """Block until a stop is requested (returns None) or a child dies (returns it).

        ``tick``, when given, runs once per ``interval_s`` between the checks (upkeep such as
        restarting the Tansu fallback broker).
        """
        while not stop_requested():
            dead = self.first_exited()
            if dead is not None:
                return dead
            if tick is not None:
                tick()
            time.sleep(interval_s)
        return None

    def stop_all(self, on_stopping: Callable[[str], None] | None = None) -> None:
        """Stop every started child, newest first."""
        for child in reversed(self.children):
            if on_stopping is not None:
                on_stopping(child.name)
            child.stop(self.grace_s)
        self.children.clear()
