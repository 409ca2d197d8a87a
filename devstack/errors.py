"""Errors of the embedded stack (``journeys up``).

StackError              base class: the CLI prints its message as one line and exits 1
├── PortInUse           a port the stack wants is taken
├── ChildExited         a child process exited while starting or running
└── ChildNotReady       a child did not become ready within its timeout
"""

from __future__ import annotations


class StackError(Exception):
    """Base class of every error ``journeys up`` reports."""


class PortInUse(StackError):
    def __init__(self, what: str, port: int) -> None:
        super().__init__(
            f"port {port} for the {what} is already in use (choose another with --help)"
        )


class ChildExited(StackError):
    def __init__(self, name: str, code: int, log_tail: str) -> None:
        super().__init__(f"{name} exited with code {code}; last log lines:\n{log_tail}")
        self.name = name
        self.code = code


class ChildNotReady(StackError):
    def __init__(self, name: str, timeout_s: float, log_tail: str) -> None:
        super().__init__(f"{name} not ready after {timeout_s:.0f}s; last log lines:\n{log_tail}")
        self.name = name
