"""Run a long-lived CLI process and read its output line by line with timeouts."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence


class LineReader:
    """A child process whose stdout is read by a thread into a bounded queue."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            text=True,
            start_new_session=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue(maxsize=10_000)
        self.seen: list[str] = []
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for_line(self, startswith: str, timeout: float) -> str:
        """The first line starting with ``startswith``; TimeoutError with the output otherwise."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                raise RuntimeError("process exited; output:\n" + "\n".join(self.seen))
            self.seen.append(line)
            if line.startswith(startswith):
                return line
        raise TimeoutError(f"no line starting {startswith!r}; output:\n" + "\n".join(self.seen))

    def take_available(self) -> list[str]:
        """Everything printed so far (moved into ``seen``), without waiting."""
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                return self.seen
            if line is not None:
                self.seen.append(line)

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM the process (only the leader: it stops its own children) and wait."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self._drain()

    def kill(self) -> None:
        """Stop it after a failed test: SIGTERM, then SIGKILL its group after 60 s.

        SIGTERM first: ``journeys up`` starts its children in process groups of their own, so
        only it can stop them; a SIGKILL straight away would leave them running.
        """
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._drain()

    def _drain(self) -> None:
        self._thread.join(timeout=5)
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.seen.append(line)
        if self.proc.stdout is not None and not self._thread.is_alive():
            self.proc.stdout.close()
