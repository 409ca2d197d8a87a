"""A local broker backed by one child process, stopped on exit (the base of ApacheKafkaBroker)."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from devstack.child_process import ChildProcess


class BrokerProcess:
    """A local broker backed by one :class:`ChildProcess`; subclasses define ``start``."""

    def __init__(self) -> None:
        self._process: ChildProcess | None = None

    def start(self) -> Self:
        """Start the broker and wait until it answers."""
        raise NotImplementedError

    def running(self) -> bool:
        """True while the broker process is alive."""
        return self._process is not None and self._process.running()

    def exit_code(self) -> int | None:
        """None while running, else the exit code."""
        return None if self._process is None else self._process.exit_code()

    @property
    def pid(self) -> int | None:
        """The broker's process id, when started."""
        return None if self._process is None else self._process.pid

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the broker, wait up to ``timeout``, then SIGKILL it; idempotent."""
        process, self._process = self._process, None
        return None if process is None else process.stop(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
