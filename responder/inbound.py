"""Decode and validate one request record. Nothing that came through the DMZ is trusted.

A record becomes either an :class:`InboundRequest` (headers and value valid) or a
:class:`Rejection` (why, plus whatever routing information was usable so the caller can still
send an ``invalid`` or ``expired`` reply). Header rules, all from :mod:`journeys.contract`:

- ``correlation-id``: required, 1-256 bytes of UTF-8 text without control characters;
- ``reply-partition``: required, decimal, within the replies topic;
- ``deadline``: required, decimal epoch milliseconds;
- ``contract-version``: optional; when present it must be the version this code speaks;
- ``traceparent``: optional; copied to the reply only when it is well-formed W3C;
- ``requester-id``: optional; copied to the reply only when it is 1-64 characters of
  ``[A-Za-z0-9._-]`` (it lets a requester tell its replies from another instance's);
- every header at most once; the key, when present, must equal the value's ``customer_id``;
- the value is at most :data:`journeys.contract.MAX_REQUEST_BYTES` (checked before parsing).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final, Protocol

from pydantic import ValidationError

from journeys.contract import (
    CONTRACT_VERSION,
    MAX_REQUEST_BYTES,
    Header,
    StatusFilter,
    decode_request,
)
from journeys.observability import remote_span_context, traceparent_of

MAX_CORRELATION_ID_BYTES: Final = 256
_CONTROL_RE: Final = re.compile(r"[\x00-\x1f\x7f]")
_REQUESTER_ID_RE: Final = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_KNOWN_HEADERS: Final = frozenset(
    {
        Header.CORRELATION_ID,
        Header.REPLY_PARTITION,
        Header.DEADLINE,
        Header.TRACEPARENT,
        Header.CONTRACT_VERSION,
        Header.REQUESTER_ID,
        Header.HEDGE,
    }
)


class InboundRecord(Protocol):
    """The parts of a consumed Kafka record the responder reads (aiokafka ``ConsumerRecord``)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


@dataclass(frozen=True, slots=True)
class Routing:
    """Where and how to answer a request: the headers every reply needs."""

    correlation_id: str
    reply_partition: int
    traceparent: str | None
    requester_id: str | None = None
    #: The request is a gateway's hedge copy; the reply says so (the gateway counts hedges won).
    hedge: bool = False
    #: The request's deadline, echoed on the reply: a restarted gateway tells replies to its
    #: previous process (deadline before its start) from another instance's.
    deadline_ms: int | None = None


@dataclass(frozen=True, slots=True)
class InboundRequest:
    """A request whose headers and value passed validation."""

    routing: Routing
    customer_id: str
    status: StatusFilter
    deadline_ms: int


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record that cannot be handled; ``routing`` is set when an answer can still be sent."""

    reason: str
    routing: Routing | None


@dataclass(frozen=True, slots=True)
class Expired:
    """A request whose deadline had passed when it was polled (its value is not decoded)."""

    routing: Routing
    deadline_ms: int


Parsed = InboundRequest | Rejection | Expired


class _Invalid(Exception):
    pass


def parse_record(record: InboundRecord, *, reply_partitions: int, now_ms: int) -> Parsed:
    """Classify one record; never raises on bad input."""
    try:
        headers = _single_headers(record.headers)
    except _Invalid as exc:
        return Rejection(str(exc), None)
    routing: Routing | None = None
    try:
        routing = _routing(headers, reply_partitions)
        deadline_ms = _decimal(headers, Header.DEADLINE)
        routing = replace(routing, deadline_ms=deadline_ms)
        version = headers.get(Header.CONTRACT_VERSION)
        if version is not None and version != str(CONTRACT_VERSION):
            raise _Invalid(f"unsupported contract-version {version[:16]!r}")
        if deadline_ms <= now_ms:
            return Expired(routing, deadline_ms)
        return _request(record, routing, deadline_ms)
    except _Invalid as exc:
        return Rejection(str(exc), routing)


def _single_headers(raw: Sequence[tuple[str, bytes]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in raw:
        if name not in _KNOWN_HEADERS:
            continue  # unknown headers are ignored, as Kafka clients add their own
        if name in headers:
            raise _Invalid(f"header {name!r} appears more than once")
        try:
            headers[name] = value.decode("utf-8")
        except (UnicodeDecodeError, AttributeError):
            raise _Invalid(f"header {name!r} is not UTF-8 text") from None
    return headers


def _routing(headers: dict[str, str], reply_partitions: int) -> Routing:
    correlation_id = headers.get(Header.CORRELATION_ID)
    if not correlation_id:
        raise _Invalid("missing header 'correlation-id'")
    if len(correlation_id.encode()) > MAX_CORRELATION_ID_BYTES:
        raise _Invalid(f"header 'correlation-id' is longer than {MAX_CORRELATION_ID_BYTES} bytes")
    if _CONTROL_RE.search(correlation_id):
        raise _Invalid("header 'correlation-id' contains control characters")
    partition = _decimal(headers, Header.REPLY_PARTITION)
    if partition >= reply_partitions:
        raise _Invalid(
            f"header 'reply-partition' {partition} is outside the replies topic"
            f" ({reply_partitions} partitions)"
        )
    remote = remote_span_context(headers.get(Header.TRACEPARENT))
    traceparent = None if remote is None else traceparent_of(remote)
    requester_id = headers.get(Header.REQUESTER_ID)
    if requester_id is not None and not _REQUESTER_ID_RE.match(requester_id):
        requester_id = None
    return Routing(
        correlation_id,
        partition,
        traceparent,
        requester_id,
        hedge=headers.get(Header.HEDGE) == "1",
    )


def _decimal(headers: dict[str, str], name: str) -> int:
    text = headers.get(name)
    if text is None:
        raise _Invalid(f"missing header {name!r}")
    # isdecimal() also accepts non-ASCII digits; the contract says ASCII decimal.
    if not (0 < len(text) <= 19 and text.isascii() and text.isdecimal()):
        raise _Invalid(f"header {name!r} is not a decimal number")
    return int(text)


def _request(record: InboundRecord, routing: Routing, deadline_ms: int) -> InboundRequest:
    if record.value is None:
        raise _Invalid("empty value")
    if len(record.value) > MAX_REQUEST_BYTES:
        # Refused before any parsing: a valid request is a few dozen bytes.
        raise _Invalid(f"value is {len(record.value)} bytes, over {MAX_REQUEST_BYTES}")
    try:
        request = decode_request(record.value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "value"
        raise _Invalid(f"invalid request: {where}: {first['msg']}") from None
    except ValueError as exc:  # orjson.JSONDecodeError is a ValueError
        raise _Invalid(f"value is not JSON: {str(exc)[:120]}") from None
    if request.v != CONTRACT_VERSION:
        raise _Invalid(f"unsupported contract version {request.v}")
    if record.key is not None and record.key != request.customer_id.encode():
        raise _Invalid("key does not match customer_id")
    return InboundRequest(routing, request.customer_id, request.status, deadline_ms)
