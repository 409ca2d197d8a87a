"""Real server processes for tests: the one child-process wrapper, ports and polling.

Tests start servers with :class:`devstack.ChildProcess` (the wrapper ``journeys up``
and the local brokers use too) from a fixture, as a context manager, so the process is stopped
even when a test fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from devstack.child_process import ChildProcess
from devstack.processes import free_port, journeys_command, port_open

__all__ = ["ChildProcess", "free_port", "journeys_command", "port_open", "wait_until"]


def wait_until(
    probe: Callable[[], bool], timeout: float, what: str, interval: float = 0.05
) -> None:
    """Poll ``probe`` until it returns True; raise ``TimeoutError`` naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s")
