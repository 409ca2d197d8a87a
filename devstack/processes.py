"""Local child processes and ports: what the embedded broker, ``journeys up``, the test fixtures
and the benchmarks share.

Children run in their own process group (``start_new_session=True``), so
:func:`stop_process_group` reaches whatever they started themselves.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from typing import Any


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def journeys_command(*args: str) -> list[str]:
    """The ``journeys`` CLI of this interpreter's environment, with ``args``."""
    return [sys.executable, "-m", "cli", *args]


#: How long a SIGKILLed process may take to be reaped (the kernel frees its memory first).
KILLED_REAP_TIMEOUT_S = 30.0


def stop_process_group(proc: subprocess.Popen[Any], timeout: float) -> int:
    """SIGTERM ``proc``'s process group, wait up to ``timeout``, then SIGKILL it.

    ``proc`` must lead its own group (started with ``start_new_session=True``). Returns the
    exit code; a process that already exited is only reaped.
    """
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    return proc.wait(timeout=KILLED_REAP_TIMEOUT_S)
