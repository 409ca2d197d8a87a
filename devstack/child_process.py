"""One child process: started with its output in a log file, ready when a probe passes, stopped.

:class:`ChildProcess` is the one wrapper around ``subprocess.Popen`` that ``journeys up``'s
supervisor, the local Apache Kafka broker, the test fixtures and the benchmarks use.
The child leads its own process group (``start_new_session=True``): Ctrl-C in a terminal reaches
only the parent, and :meth:`ChildProcess.stop` reaches whatever the child started itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from devstack.errors import ChildExited, ChildNotReady, StackError
from devstack.processes import stop_process_group

Probe = Callable[[], bool]


class ChildProcess:
    """One process with a log file and a readiness probe; a context manager.

    ``ready`` is polled by :meth:`wait_ready` (a probe that raises means "not yet"); without
    one the child is ready once started. ``env`` is added to this process's environment.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        ready: Probe | None = None,
        ready_timeout_s: float = 60.0,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env or {})
        self.ready = ready
        self.ready_timeout_s = ready_timeout_s
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def launch(self) -> None:
        """Start the process (stdout and stderr appended to the log) without waiting."""
        if self.running():
            raise StackError(f"{self.name} is already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            try:
                self.proc = subprocess.Popen(  # noqa: S603 (our own argv list, no shell)
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, **self.env},
                    cwd=self.cwd,
                    start_new_session=True,
                )
            except OSError as exc:
                raise StackError(f"cannot run {self.name} ({self.argv[0]}): {exc}") from exc

    def start(self) -> ChildProcess:
        """Launch and wait until ready; the child is stopped again if it never gets there."""
        self.launch()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self) -> None:
        """Poll the probe until it passes; :class:`ChildExited` or :class:`ChildNotReady`."""
        deadline = time.monotonic() + self.ready_timeout_s
        while True:
            code = self.exit_code()
            if code is not None:
                raise ChildExited(self.name, code, self.log_tail())
            if self._probe():
                return
            if time.monotonic() > deadline:
                raise ChildNotReady(self.name, self.ready_timeout_s, self.log_tail())
            time.sleep(0.05)

    def _probe(self) -> bool:
        if self.ready is None:
            return True
        try:
            return self.ready()
        except Exception:  # a probe that raises simply means "not yet"
            return False

    @property
    def pid(self) -> int | None:
        """The process id while started."""
        return None if self.proc is None else self.proc.pid

    def exit_code(self) -> int | None:
        """None while running (or never started), else the exit code."""
        return None if self.proc is None else self.proc.poll()

    def running(self) -> bool:
        """True while the process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the process group (e.g. SIGKILL to simulate a crash)."""
        if self.proc is not None and self.running():
            os.killpg(self.proc.pid, sig)

    def kill(self) -> None:
        """SIGKILL the process group and reap it: a crash, not a shutdown."""
        proc, self.proc = self.proc, None
        if proc is not None:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait up to ``timeout``, then SIGKILL; idempotent. Returns the exit code."""
        proc, self.proc = self.proc, None
        return None if proc is None else stop_process_group(proc, timeout)

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the log, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> ChildProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
