"""W3C trace context for the ``traceparent`` header: continue the caller's trace or start one.

Format (https://www.w3.org/TR/trace-context/): ``00-<trace-id 32 hex>-<parent-id 16 hex>-<flags
2 hex>``, lower case; all-zero trace or parent ids are invalid. The gateway is one hop of the
trace, so it keeps the caller's trace id and flags and puts its own span id as parent id.
"""

from __future__ import annotations

import re
import secrets
from typing import Final

_TRACEPARENT_RE: Final = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ZERO_TRACE: Final = "0" * 32
_ZERO_SPAN: Final = "0" * 16


def _span_id() -> str:
    span = secrets.token_hex(8)
    return span if span != _ZERO_SPAN else _span_id()


def outgoing_traceparent(incoming: str | None) -> str:
    """The ``traceparent`` to send to Kafka, continuing ``incoming`` when it is valid."""
    if incoming:
        match = _TRACEPARENT_RE.match(incoming.strip().lower())
        if match is not None:
            version, trace_id, parent_id, flags = match.groups()
            # Version ff is forbidden; version 00 must be exactly 55 characters long.
            valid_version = version != "ff" and (version != "00" or len(incoming.strip()) == 55)
            if valid_version and trace_id != _ZERO_TRACE and parent_id != _ZERO_SPAN:
                return f"00-{trace_id}-{_span_id()}-{flags}"
    return f"00-{secrets.token_hex(16)}-{_span_id()}-01"


def trace_id_of(traceparent: str) -> str:
    """The trace id part of a (valid) traceparent."""
    return traceparent[3:35]
