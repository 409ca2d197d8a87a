"""Dead letters that always fit: the original record, or a bounded, marked cut of it.

A request record can be far larger than the producer may send: a few KB of compressed junk
decompresses to megabytes, and headers are as attacker-controlled as the value. A dead letter
that the producer refuses would make the responder re-read its batch forever (the partition
stalls), so every dead letter is at most ``max_bytes`` of key, value and headers:

- a record that fits is copied whole, plus the ``reason`` header;
- otherwise the key is cut to :data:`MAX_KEY_BYTES`, headers larger than
  :data:`MAX_HEADER_BYTES` each are dropped (the others kept while they fit a quarter of the
  budget), the value is cut to what is left, and ``truncated``, ``original-size`` (bytes of
  key, value and headers) and ``original-sha256`` (of the whole value) are added, so the
  original can still be recognised.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final

from journeys.contract import Header
from responder.inbound import InboundRecord
from responder.replies import Outbound

MAX_KEY_BYTES: Final = 256
MAX_HEADER_BYTES: Final = 1024
MAX_REASON_BYTES: Final = 512
#: Room for the headers this module adds and Kafka's per-record overhead.
_OVERHEAD_BYTES: Final = 512


def record_size(
    key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]
) -> int:
    """Bytes of key, value and header names and values (what the size limit counts)."""
    return (
        len(key or b"")
        + len(value or b"")
        + sum(len(name.encode()) + len(data or b"") for name, data in headers)
    )


def dead_letter(topic: str, record: InboundRecord, reason: str, *, max_bytes: int) -> Outbound:
    """``record``'s key, value and headers plus ``reason``, cut to fit ``max_bytes``."""
    reason_bytes = reason.encode()[:MAX_REASON_BYTES]
    original = record_size(record.key, record.value, record.headers)
    if original + len(reason_bytes) + _OVERHEAD_BYTES <= max_bytes:
        headers = [*record.headers, (Header.REASON, reason_bytes)]
        return Outbound(topic, None, record.key, record.value, headers)
    key = None if record.key is None else record.key[:MAX_KEY_BYTES]
    kept = _bounded_headers(record.headers, budget=max_bytes // 4)
    value = record.value
    digest = hashlib.sha256(value or b"").hexdigest()
    headers = [
        *kept,
        (Header.REASON, reason_bytes),
        (Header.TRUNCATED, b"true"),
        (Header.ORIGINAL_SIZE, str(original).encode()),
        (Header.ORIGINAL_SHA256, digest.encode()),
    ]
    room = max_bytes - _OVERHEAD_BYTES - record_size(key, None, headers)
    if value is not None:
        value = value[: max(room, 0)]
    return Outbound(topic, None, key, value, headers)


def _bounded_headers(
    headers: Sequence[tuple[str, bytes]], *, budget: int
) -> list[tuple[str, bytes]]:
    kept: list[tuple[str, bytes]] = []
    used = 0
    for name, data in headers:
        size = len(name.encode()) + len(data or b"")
        if size > MAX_HEADER_BYTES or used + size > budget:
            continue
        kept.append((name, data))
        used += size
    return kept
