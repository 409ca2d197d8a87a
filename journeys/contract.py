"""The Kafka wire contract between the gateway (``api/``) and the responder (``responder/``).

This is the only module both sides share (besides :mod:`journeys.schema`); it must not import
either side. ``docs/wire-contract.md`` describes the same contract for other languages.

Request  (topic ``journey.requests``, key = customer id, value = JSON :class:`JourneyRequest`)
  headers: ``correlation-id`` (opaque text, unique per request), ``reply-partition`` (decimal
  partition of ``journey.replies`` to answer on), ``deadline`` (absolute epoch milliseconds),
  ``traceparent`` (W3C), ``contract-version``, ``requester-id`` (optional: the requesting
  instance's id, copied to the reply so a requester can tell its replies from another's);
  ``hedge`` (``1``) on the second copy of a request a gateway hedged: a responder may see the
  same correlation id twice.
Reply    (topic ``journey.replies``, partition = the request's ``reply-partition``,
  key = customer id, value = JSON :class:`JourneyReply`)
  headers: ``correlation-id`` (copied from the request), ``traceparent``, ``contract-version``,
  ``requester-id`` (copied from the request when present and well-formed), ``hedge`` (copied
  from the request when present).
Dead letters (topic ``journey.requests.dlq``): the original key, value and headers, plus a
  ``reason`` header saying why the message could not be handled. A record too large to copy
  whole is cut to a bounded prefix and marked with ``truncated``, ``original-size`` and
  ``original-sha256`` headers, so a dead letter always fits the producer's size limit.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final

import orjson
from pydantic import BaseModel, ConfigDict, Field

from journeys.schema import ID_MAX_LENGTH, ID_PATTERN

CONTRACT_VERSION: Final = 1

REQUESTS_TOPIC: Final = "journey.requests"
REPLIES_TOPIC: Final = "journey.replies"
DLQ_TOPIC: Final = "journey.requests.dlq"

#: Recommended retention (ms): requests and replies are useless after their deadline, so an
#: hour is plenty; dead letters stay a week for inspection and replay (docs/wire-contract.md).
REQUESTS_RETENTION_MS: Final = 3_600_000
DLQ_RETENTION_MS: Final = 7 * 24 * 3_600_000
#: Largest request value a responder decodes; a valid one is under 200 bytes. Larger values are
#: dead-lettered before any parsing.
MAX_REQUEST_BYTES: Final = 4096


class Header:
    """Kafka header names (values are UTF-8 text)."""

    CORRELATION_ID: Final = "correlation-id"
    REPLY_PARTITION: Final = "reply-partition"
    DEADLINE: Final = "deadline"
    TRACEPARENT: Final = "traceparent"
    CONTRACT_VERSION: Final = "contract-version"
    REASON: Final = "reason"
    REQUESTER_ID: Final = "requester-id"
    TRUNCATED: Final = "truncated"
    ORIGINAL_SIZE: Final = "original-size"
    ORIGINAL_SHA256: Final = "original-sha256"
    HEDGE: Final = "hedge"


class ReplyStatus(StrEnum):
    """Outcome of one request, decided by the responder."""

    OK = "ok"
    NOT_FOUND = "not_found"
    INVALID = "invalid"
    UNAVAILABLE = "unavailable"
    EXPIRED = "expired"
    TOO_LARGE = "too_large"


class StatusFilter(StrEnum):
    """Which journeys a request asks for."""

    OPEN = "open"
    CLOSED = "closed"
    ALL = "all"


def parse_status_filter(value: str) -> StatusFilter:
    """The :class:`StatusFilter` named ``value``; ValueError naming the allowed values otherwise.

    Every place that accepts a status filter as text (store client, store server, database)
    checks it here, so the allowed values and the message are defined once.
    """
    try:
        return StatusFilter(value)
    except ValueError:
        raise ValueError(
            f"status must be one of {', '.join(StatusFilter)}, not {value!r}"
        ) from None


CustomerId = Annotated[str, Field(pattern=ID_PATTERN, max_length=ID_MAX_LENGTH)]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JourneyRequest(_Message):
    """The value of a request message."""

    v: int = CONTRACT_VERSION
    customer_id: CustomerId
    status: StatusFilter = StatusFilter.OPEN


class Content(_Message):
    """What a frontend shows for a journey step."""

    title: str
    body: str | None = None
    cta_url: str | None = None
    image_url: str | None = None


class Journey(_Message):
    """One journey as it travels in a reply; fields mirror :data:`journeys.schema.JOURNEY_SCHEMA`.

    Timestamps are ISO-8601 strings in UTC; ``attributes`` is the decoded JSON object.
    """

    customer_id: str
    journey_id: str
    campaign: str
    journey_name: str
    step: int
    channel: str
    content: Content
    status: str
    priority: int
    valid_from: str
    valid_to: str | None
    created_at: str
    updated_at: str
    closed_at: str | None
    attributes: dict[str, object]


class JourneyReply(_Message):
    """The value of a reply message."""

    v: int = CONTRACT_VERSION
    status: ReplyStatus
    customer_id: str | None = None
    journeys: list[Journey] = Field(default_factory=list)
    error: str | None = None


def encode(message: _Message) -> bytes:
    """Serialise a request or reply to its wire bytes (compact JSON, UTF-8)."""
    return orjson.dumps(message.model_dump(mode="json", exclude_none=False))


def decode_request(value: bytes) -> JourneyRequest:
    """Parse and validate a request value; raises ``pydantic.ValidationError`` or ``ValueError``."""
    return JourneyRequest.model_validate(orjson.loads(value))


def decode_reply(value: bytes) -> JourneyReply:
    """Parse and validate a reply value; raises ``pydantic.ValidationError`` or ``ValueError``."""
    return JourneyReply.model_validate(orjson.loads(value))
