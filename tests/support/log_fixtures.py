"""Fixtures: capture this process's JSON log lines (``configure_logging``) in a test.

``json_logs``  installs the real JSON pipeline (synchronous, into memory, level DEBUG) and
               gives the parsed lines; the root logger's previous handlers are put back after.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from journeys.observability import configure_logging


class JsonLogs:
    """The JSON lines logged since the fixture started."""

    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        """Every line, parsed; fails the test if one is not a JSON object."""
        parsed = [orjson.loads(line) for line in self.text().splitlines() if line]
        assert all(isinstance(line, dict) for line in parsed)
        return parsed

    def find(self, **fields: Any) -> list[dict[str, Any]]:
        """The lines whose fields include ``fields``."""
        return [line for line in self.lines() if all(line.get(k) == v for k, v in fields.items())]


@pytest.fixture
def json_logs() -> Iterator[JsonLogs]:
    """This process's logs as JSON lines in memory (with ``secrets`` none; see the tests)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    setup = configure_logging("debug", "test", stream=stream, background=False)
    try:
        yield JsonLogs(stream)
    finally:
        setup.close()
        logging.captureWarnings(False)
        logging.getLogger("uvicorn.access").disabled = False
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
