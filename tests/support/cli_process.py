"""Run a long-lived CLI process (``journeys up``) and read its output line by line.

The one reader of ``journeys up``'s console for the tests and for bench/soak.py: a thread reads
every line as it is printed and notes when (``time.monotonic()``), so a soak can place what
``journeys up`` printed during its load on the load's timeline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Line:
    """One line the process printed, and when it was read (``time.monotonic()``)."""

    at: float
    text: str


class LineReader:
    """A child process in its own session whose stdout and stderr a thread reads into
    :attr:`lines`."""

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
        #: Every line read so far (appended by the reading thread).
        self.lines: list[Line] = []
        self._waited = 0  # lines[:_waited] were passed over by wait_for()
        self._ended = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for text in self.proc.stdout:
            with self._changed:
                self.lines.append(Line(time.monotonic(), text.rstrip("\n")))
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    @property
    def seen(self) -> list[str]:
        """The text of every line read so far."""
        return [line.text for line in self.lines]

    def output(self) -> str:
        """Everything it printed so far."""
        return "\n".join(self.seen)

    def lines_since(self, since: float) -> list[Line]:
        """The lines read at or after ``since`` (``time.monotonic()``)."""
        return [line for line in self.lines if line.at >= since]

    def wait_for(
        self, startswith: str, timeout: float, on_line: Callable[[str], None] | None = None
    ) -> Line:
        """The first line after the last one waited for that starts with ``startswith``;
        ``on_line`` hears every line passed over (that one included). RuntimeError when the
        process ends first, TimeoutError after ``timeout``; both carry the output."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                while self._waited < len(self.lines):
                    line = self.lines[self._waited]
                    self._waited += 1
                    if on_line is not None:
                        on_line(line.text)
                    if line.text.startswith(startswith):
                        return line
                if self._ended:
                    raise RuntimeError(f"process exited; output:\n{self.output()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no line starting {startswith!r}; output:\n{self.output()}")
                self._changed.wait(left)

    def wait_for_line(self, startswith: str, timeout: float) -> str:
        """The text of :meth:`wait_for`'s line."""
        return self.wait_for(startswith, timeout).text

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM the process (only the leader: it stops its own children) and wait."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self._drain()

    def kill(self, grace_s: float = 60.0) -> int:
        """Stop it whatever it does: SIGTERM, then SIGKILL its group after ``grace_s``.

        SIGTERM first: ``journeys up`` starts its children in process groups of their own, so
        only it can stop them; a SIGKILL straight away would leave them running.
        """
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._drain()
        return self.proc.returncode

    def _drain(self) -> None:
        self._thread.join(timeout=5)
        if self.proc.stdout is not None and not self._thread.is_alive():
            self.proc.stdout.close()
