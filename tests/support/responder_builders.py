"""Builders for responder tests: request records and a reader of the replies topic."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from aiokafka.structs import ConsumerRecord, TopicPartition

from journeys.contract import CONTRACT_VERSION, Header

_offsets = itertools.count()


def unique_customer(prefix: str = "c") -> str:
    """A customer id no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def request_headers(
    correlation_id: str | None = None,
    *,
    reply_partition: int | str = 0,
    deadline_ms: int | None = None,
    traceparent: str | None = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
) -> list[tuple[str, bytes]]:
    """Headers of a valid request (deadline 30 s from now unless given)."""
    headers = [
        (Header.CORRELATION_ID, (correlation_id or uuid.uuid4().hex).encode()),
        (Header.REPLY_PARTITION, str(reply_partition).encode()),
        (
            Header.DEADLINE,
            str(deadline_ms if deadline_ms is not None else now_ms() + 30_000).encode(),
        ),
        (Header.CONTRACT_VERSION, str(CONTRACT_VERSION).encode()),
    ]
    if traceparent is not None:
        headers.append((Header.TRACEPARENT, traceparent.encode()))
    return headers


def request_value(customer_id: str, status: str = "open") -> bytes:
    return orjson.dumps({"v": CONTRACT_VERSION, "customer_id": customer_id, "status": status})


def record(
    value: bytes | None,
    headers: Sequence[tuple[str, bytes]],
    *,
    key: bytes | None = None,
    topic: str = "journey.requests",
    partition: int = 0,
) -> ConsumerRecord[bytes, bytes]:
    """A consumed record as aiokafka hands it to the responder."""
    return ConsumerRecord(
        topic=topic,
        partition=partition,
        offset=next(_offsets),
        timestamp=now_ms(),
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key or b""),
        serialized_value_size=len(value or b""),
        headers=tuple(headers),
    )


def request_record(
    customer_id: str, status: str = "open", **header_args: Any
) -> ConsumerRecord[bytes, bytes]:
    """A valid request record for ``customer_id``."""
    return record(
        request_value(customer_id, status),
        request_headers(**header_args),
        key=customer_id.encode(),
    )


class ReplyReader:
    """Reads the replies (or any) topic from given partitions into a dict by correlation id."""

    def __init__(self, settings: Any, topic: str, partitions: Sequence[int]) -> None:
        from journeys.kafka import create_consumer

        self._consumer = create_consumer(settings, role="test-replies")
        self._tps = [TopicPartition(topic, p) for p in partitions]
        self.by_correlation: dict[str, ConsumerRecord[bytes, bytes]] = {}
        self.records: list[ConsumerRecord[bytes, bytes]] = []

    async def __aenter__(self) -> ReplyReader:
        await self._consumer.start()
        self._consumer.assign(self._tps)
        await self._consumer.seek_to_beginning(*self._tps)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def wait_for(
        self, correlation_ids: Iterable[str], within_s: float = 60.0
    ) -> dict[str, ConsumerRecord[bytes, bytes]]:
        """Read until every id in ``correlation_ids`` has a message; TimeoutError otherwise."""
        wanted = set(correlation_ids)
        try:
            async with asyncio.timeout(within_s):
                while not wanted <= self.by_correlation.keys():
                    await self.poll()
        except TimeoutError:
            missing = sorted(wanted - self.by_correlation.keys())
            raise TimeoutError(f"no message for {len(missing)} ids, e.g. {missing[:3]}") from None
        return {cid: self.by_correlation[cid] for cid in wanted}

    async def wait_for_count(self, count: int, within_s: float = 60.0) -> None:
        """Read until at least ``count`` messages arrived; TimeoutError otherwise."""
        async with asyncio.timeout(within_s):
            while len(self.records) < count:
                await self.poll()

    async def poll(self, timeout_ms: int = 200) -> None:
        """Read whatever arrives within ``timeout_ms``."""
        batches = await self._consumer.getmany(*self._tps, timeout_ms=timeout_ms)
        for part in batches.values():
            for message in part:
                self.records.append(message)
                cid = dict(message.headers).get(Header.CORRELATION_ID)
                if cid is not None:
                    self.by_correlation[cid.decode()] = message
