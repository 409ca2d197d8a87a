"""configure_logging: one JSON object per line with the context of the request at hand."""

from __future__ import annotations

import io
import logging

import orjson
import pytest

from journeys.observability import (
    bind_correlation_id,
    configure_logging,
    get_tracer,
    log_context,
)
from tests.support.log_fixtures import JsonLogs

log = logging.getLogger("journeys.test")


def test_every_line_is_one_json_object_with_the_standard_fields(json_logs: JsonLogs) -> None:
    log.info("hello %s", "world")
    log.warning("second\nline")

    lines = json_logs.lines()
    assert len(json_logs.text().splitlines()) == 2
    first, second = lines
    assert first["message"] == "hello world"
    assert first["level"] == "info"
    assert first["process"] == "test"
    assert first["logger"] == "journeys.test"
    assert first["ts"].endswith("Z")
    assert second["message"] == "second\nline"
    assert second["level"] == "warning"
    assert "correlation_id" not in first
    assert "trace_id" not in first


def test_lines_carry_the_correlation_id_and_the_current_span(json_logs: JsonLogs) -> None:
    with (
        log_context(),
        get_tracer("test").start_as_current_span("work") as span,
    ):
        bind_correlation_id("cid-42")
        log.info("inside")
    log.info("outside")

    inside, outside = json_logs.lines()
    ids = span.get_span_context()
    assert inside["correlation_id"] == "cid-42"
    assert inside["trace_id"] == f"{ids.trace_id:032x}"
    assert inside["span_id"] == f"{ids.span_id:016x}"
    assert "correlation_id" not in outside
    assert "trace_id" not in outside


def test_explicit_ids_win_over_the_context(json_logs: JsonLogs) -> None:
    with get_tracer("test").start_as_current_span("batch"):
        log.info(
            "answered",
            extra={"correlation_id": "c1", "trace_id": "ab" * 16, "span_id": "cd" * 8, "n": 3},
        )

    [line] = json_logs.lines()
    assert (line["correlation_id"], line["trace_id"], line["span_id"]) == (
        "c1",
        "ab" * 16,
        "cd" * 8,
    )
    assert line["n"] == 3


def test_exceptions_are_logged_as_text_in_the_same_line(json_logs: JsonLogs) -> None:
    try:
        raise KeyError("boom")
    except KeyError:
        log.exception("failed")

    [line] = json_logs.lines()
    assert line["level"] == "error"
    assert "Traceback" in line["exception"]
    assert "KeyError: 'boom'" in line["exception"]


def test_library_loggers_go_through_the_json_handler(json_logs: JsonLogs) -> None:
    logging.getLogger("uvicorn.error").info("Started server process")
    logging.getLogger("aiokafka.consumer").warning("rebalance")

    assert [line["logger"] for line in json_logs.lines()] == ["uvicorn.error", "aiokafka.consumer"]


def test_the_level_setting_filters_lower_levels() -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    setup = configure_logging("warning", "test", stream=stream)  # the background writer
    try:
        log.info("dropped")
        log.error("kept")
    finally:
        setup.close()  # flushes the queue
        logging.captureWarnings(False)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
    assert [orjson.loads(line)["message"] for line in stream.getvalue().splitlines()] == ["kept"]


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="log level"):
        configure_logging("loud", "test", stream=io.StringIO())
