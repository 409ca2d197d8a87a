"""JSON logs: one line per event on stderr, with correlation and trace ids, secrets redacted.

:func:`configure_logging` is called once at each process's start. Every line is a JSON object:

``ts`` (UTC, ISO 8601, ms), ``level``, ``process`` (gateway, responder, store, …), ``logger``,
``message``; then ``correlation_id``, ``trace_id`` and ``span_id`` when known (from the record,
else from :mod:`journeys.observability.context` and the current OpenTelemetry span); then
``exception`` (the traceback as text) when there is one, and any ``extra=`` fields.

Lines are formatted (and redacted, see :mod:`journeys.observability.redaction`) in the thread
that logs, then handed to a bounded queue that a background thread writes to stderr: a slow
stderr never blocks an event loop, and when the queue is full lines are dropped and counted
rather than buffered without bound. uvicorn's and aiokafka's loggers go through the same path.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import Any, Final, TextIO

import orjson
from opentelemetry import trace

from journeys.observability.context import current_correlation_id
from journeys.observability.redaction import STANDARD_ATTRS, RedactionFilter, Redactor
from journeys.observability.tracing import span_ids

#: Lines waiting for the writer thread at most; beyond it, lines are dropped (and counted).
QUEUE_SIZE: Final = 10_000
LEVELS: Final = ("debug", "info", "warning", "error", "critical")
#: Loggers of libraries that run in our processes; their records reach the root handler.
LIBRARY_LOGGERS: Final = ("uvicorn", "uvicorn.error", "uvicorn.asgi", "aiokafka")


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object (see the module docstring for the fields)."""

    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": f"{time.strftime(_TS_FORMAT, time.gmtime(record.created))}"
            f".{int(record.msecs):03d}Z",
            "level": _LEVEL_NAMES.get(record.levelno) or record.levelname.lower(),
            "process": self.process,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = record.__dict__
        correlation_id = fields.get("correlation_id") or current_correlation_id()
        if correlation_id:
            line["correlation_id"] = correlation_id
        if "trace_id" in fields:  # set explicitly (even to None) by the caller: trust it
            if fields["trace_id"]:
                line["trace_id"] = fields["trace_id"]
                if fields.get("span_id"):
                    line["span_id"] = fields["span_id"]
        else:
            ids = span_ids(trace.get_current_span().get_span_context())
            if ids is not None:
                line["trace_id"], line["span_id"] = ids
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        for name, value in fields.items():  # in the order the caller gave them
            if name not in _NOT_EXTRA and name not in line:
                line[name] = value
        return orjson.dumps(line, default=str).decode()


_TS_FORMAT: Final = "%Y-%m-%dT%H:%M:%S"
_LEVEL_NAMES: Final = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warning",
    logging.ERROR: "error",
    logging.CRITICAL: "critical",
}
_NOT_EXTRA: Final = STANDARD_ATTRS | {"correlation_id", "trace_id", "span_id"}


class _QueuedLineHandler(logging.Handler):
    """Formats in the caller's thread and queues the line; drops (and counts) when full."""

    def __init__(self, lines: deque[str]) -> None:
        super().__init__()
        self.lines = lines
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        # Handler.handle holds this handler's lock: the length check and append are one step.
        if len(self.lines) >= QUEUE_SIZE:
            self.dropped += 1
        else:
            self.lines.append(line)


class _LineWriter(threading.Thread):
    """Every few milliseconds, writes the queued lines to the stream in one write.

    It polls rather than waits on a condition: a wake-up per line would cost the logging
    thread a notify and a GIL hand-over per line.
    """

    def __init__(self, lines: deque[str], stream: TextIO) -> None:
        super().__init__(name="json-log-writer", daemon=True)
        self._lines = lines
        self._stream = stream
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.wait(_WRITE_PAUSE_S):
            self._drain()
        self._drain()

    def _drain(self) -> None:
        batch: list[str] = []
        with contextlib.suppress(IndexError):
            while True:
                batch.append(self._lines.popleft())
        if batch:
            with contextlib.suppress(OSError, ValueError):  # stderr closed: nowhere to say
                self._stream.write("\n".join(batch) + "\n")
                self._stream.flush()

    def stop(self) -> None:
        """Write what is queued, then end."""
        self._stopping.set()
        self.join(timeout=5.0)


_WRITE_PAUSE_S: Final = 0.005


class LoggingSetup:
    """The installed pipeline; :meth:`close` flushes pending lines (also run at exit)."""

    def __init__(self, handler: logging.Handler, writer: _LineWriter | None) -> None:
        self.handler = handler
        self._writer = writer

    @property
    def dropped(self) -> int:
        """Lines dropped because the queue was full."""
        return getattr(self.handler, "dropped", 0)

    def close(self) -> None:
        """Write every queued line, stop the writer thread and detach the handler."""
        logging.getLogger().removeHandler(self.handler)
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.stop()
        self.handler.close()


_installed: LoggingSetup | None = None


def configure_logging(
    level: str,
    process: str,
    *,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
    background: bool = True,
) -> LoggingSetup:
    """Send every log record of this process to ``stream`` (stderr) as a JSON line.

    ``level`` is one of :data:`LEVELS`; ``process`` names the process in every line;
    ``secrets`` are exact values to redact wherever they appear (API keys, tokens).
    ``background=False`` writes synchronously (tests). Calling it again replaces the setup.
    """
    global _installed
    if level.lower() not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, not {level!r}")
    if _installed is not None:
        _installed.close()
    output = stream if stream is not None else sys.stderr
    writer: _LineWriter | None = None
    handler: logging.Handler
    if background:
        lines: deque[str] = deque()
        handler = _QueuedLineHandler(lines)
        writer = _LineWriter(lines, output)
    else:
        handler = logging.StreamHandler(output)
    handler.addFilter(RedactionFilter(Redactor(secrets)))
    handler.setFormatter(JsonFormatter(process))

    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        library.handlers.clear()
        library.propagate = True
    # Our own request lines replace uvicorn's access log.
    logging.getLogger("uvicorn.access").disabled = True
    logging.captureWarnings(True)
    if writer is not None:
        writer.start()
    _installed = LoggingSetup(handler, writer)
    return _installed


@atexit.register
def _flush_at_exit() -> None:
    if _installed is not None:
        _installed.close()
