"""traceparent: continue a valid caller trace, start a new one otherwise."""

from __future__ import annotations

import re

import pytest

from journeys.api.tracing import outgoing_traceparent, trace_id_of

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
FORMAT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


def test_a_valid_traceparent_keeps_trace_id_and_flags_with_a_new_parent_id() -> None:
    out = outgoing_traceparent(VALID)

    assert FORMAT.match(out)
    assert trace_id_of(out) == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert out.endswith("-01")
    assert out.split("-")[2] != "00f067aa0ba902b7"


def test_upper_case_is_accepted_and_normalised() -> None:
    assert trace_id_of(outgoing_traceparent(VALID.upper())) == "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.mark.parametrize(
    "incoming",
    [
        None,
        "",
        "garbage",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        VALID + "-extra",
    ],
)
def test_an_absent_or_invalid_traceparent_starts_a_new_sampled_trace(incoming: str | None) -> None:
    out = outgoing_traceparent(incoming)

    assert FORMAT.match(out)
    assert out.endswith("-01")
    assert trace_id_of(out) != "4bf92f3577b34da6a3ce929d0e0e4736"


def test_future_versions_with_extra_fields_are_continued() -> None:
    out = outgoing_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what")

    assert trace_id_of(out) == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert out.startswith("00-")
