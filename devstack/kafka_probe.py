"""Readiness probes for a local broker, spoken in the Kafka protocol over a plain socket.

Synchronous and dependency-free, so a launcher can poll them from any thread or fixture.
Only request versions that Apache Kafka 4.x answers (it dropped the oldest versions, KIP-896)
are used: Metadata v4 and FindCoordinator v1.
"""

from __future__ import annotations

import socket
import struct
from typing import Final

_METADATA: Final = (3, 4)  # (api key, version)
_FIND_COORDINATOR: Final = (10, 1)
_CORRELATION_ID: Final = 0x4A52
_CLIENT_ID: Final = b"journeys-probe"


def _request(api: tuple[int, int], body: bytes) -> bytes:
    header = struct.pack(">hhih", api[0], api[1], _CORRELATION_ID, len(_CLIENT_ID)) + _CLIENT_ID
    message = header + body
    return struct.pack(">i", len(message)) + message


def _exchange(host: str, port: int, request: bytes, timeout: float) -> bytes | None:
    """The response body (after the correlation id), or None when there is no good answer."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(request)
            head = _recv_exactly(sock, 8)
            if head is None:
                return None
            size, correlation_id = struct.unpack(">ii", head)
            if correlation_id != _CORRELATION_ID or not 4 <= size <= 1 << 20:
                return None
            return _recv_exactly(sock, size - 4)
    except OSError:
        return None


def _recv_exactly(sock: socket.socket, count: int) -> bytes | None:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def metadata_probe(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when ``host:port`` answers a Metadata request that lists at least one broker."""
    # Metadata v4: topics = null (all), allow_auto_topic_creation = false.
    body = _exchange(host, port, _request(_METADATA, struct.pack(">ib", -1, 0)), timeout)
    if body is None or len(body) < 8:
        return False
    # v4 response: throttle_time_ms int32, then the brokers array (int32 count first).
    (brokers,) = struct.unpack_from(">i", body, 4)
    return bool(brokers >= 1)


def coordinator_probe(host: str, port: int, group_id: str, timeout: float = 1.0) -> bool:
    """True when the broker names a coordinator for consumer group ``group_id``.

    On a fresh Apache Kafka this is what creates the group offsets topic, so asking once
    before the first consumer spares that consumer the wait.
    """
    key = group_id.encode()
    payload = struct.pack(">h", len(key)) + key + struct.pack(">b", 0)  # key, key_type=group
    body = _exchange(host, port, _request(_FIND_COORDINATOR, payload), timeout)
    if body is None or len(body) < 6:
        return False
    # v1 response: throttle_time_ms int32, error_code int16, ...
    (error_code,) = struct.unpack_from(">h", body, 4)
    return bool(error_code == 0)
