"""Per-request log context: the correlation id of the request being handled.

A request's scope (an HTTP request in the gateway) opens :func:`log_context`; code deeper down
names the correlation id with :func:`bind_correlation_id` once it is known, and every log line
written inside the scope carries it. The context variable holds a small mutable holder rather
than the id itself, so an id bound inside a child task or a copied context is still seen by
the scope's owner (the gateway's request log line is written after the route returns).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(slots=True)
class LogContext:
    """What the log lines of one request share."""

    correlation_id: str | None = None


_current: ContextVar[LogContext | None] = ContextVar("journeys_log_context", default=None)


@contextmanager
def log_context(correlation_id: str | None = None) -> Iterator[LogContext]:
    """A fresh :class:`LogContext` for the duration of the block (one request)."""
    holder = LogContext(correlation_id)
    token = _current.set(holder)
    try:
        yield holder
    finally:
        _current.reset(token)


def bind_correlation_id(correlation_id: str) -> None:
    """Name the correlation id of the request being handled (in its scope, or from here on)."""
    holder = _current.get()
    if holder is None:
        _current.set(LogContext(correlation_id))
    else:
        holder.correlation_id = correlation_id


def current_correlation_id() -> str | None:
    """The correlation id bound in this context, if any."""
    holder = _current.get()
    return holder.correlation_id if holder is not None else None
