"""The reply reader acts only on what Kafka says for certain: a leader change whose new leader's
high watermark sits below the reader is no lost log; an "offset out of range" reset is."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition

from api.reply_reader import ReplyReader
from api.reply_router import RepliesLost, ReplyRouter
from journeys.kafka import KafkaSettings

TP = TopicPartition("journey.replies", 0)


@dataclass
class Record:
    offset: int
    value: bytes = b"{}"
    headers: list[tuple[str, bytes]] = field(default_factory=list)


class ScriptedClient:
    def __init__(self) -> None:
        self.metadata_updates = 0

    def force_metadata_update(self) -> None:
        self.metadata_updates += 1


class ScriptedConsumer:
    """What aiokafka's consumer tells the reader: fetches, positions and high watermarks."""

    def __init__(self, position: int, highwater: int) -> None:
        self.position_now = position
        self.highwater_now = highwater
        self.fetches: asyncio.Queue[list[Record]] = asyncio.Queue()
        self.seeks = 0
        self._client = ScriptedClient()

    async def getmany(self, *partitions: TopicPartition, timeout_ms: int = 0) -> dict[Any, Any]:
        try:
            async with asyncio.timeout(timeout_ms / 1000):
                records = await self.fetches.get()
        except TimeoutError:
            return {}
        if records:
            self.position_now = records[-1].offset + 1
        return {TP: records} if records else {}

    async def position(self, tp: TopicPartition) -> int:
        return self.position_now

    def highwater(self, tp: TopicPartition) -> int:
        return self.highwater_now

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        self.seeks += 1
        self.position_now = 0


async def _reading(consumer: ScriptedConsumer, router: ReplyRouter) -> tuple[ReplyReader, Any]:
    reader = ReplyReader(KafkaSettings(bootstrap_servers="127.0.0.1:9"), 0, router)
    reader._next_offset = consumer.position_now  # as start() leaves it: at the end
    task = asyncio.create_task(reader._read_forever(consumer))
    return reader, task


async def test_a_high_watermark_below_the_position_during_a_leader_change_loses_nothing() -> None:
    # Before: "ends at 999997, before our position 1000000: reading it from the start", and
    # every waiting request was sent again.
    router = ReplyRouter()
    waiting = router.expect("c-1")
    consumer = ScriptedConsumer(position=1_000_000, highwater=999_997)
    reader, task = await _reading(consumer, router)
    try:
        await asyncio.sleep(0.5)  # a few idle reads with the new leader still catching up
        assert not waiting.done()
        assert consumer.seeks == 0
        assert reader.read_again == 0
    finally:
        task.cancel()


async def test_a_reset_to_the_start_after_offset_out_of_range_resends_the_waiting() -> None:
    router = ReplyRouter()
    waiting = router.expect("c-1")
    consumer = ScriptedConsumer(position=1_000_000, highwater=1_000_000)
    reader, task = await _reading(consumer, router)
    try:
        # The log was lost: Kafka answered "offset out of range", the consumer reset to 0.
        await consumer.fetches.put([Record(0), Record(1)])
        await asyncio.wait([waiting], timeout=5)
        assert isinstance(waiting.exception(), RepliesLost)
        assert reader.read_again == 1
        # Reading on from there is no second loss.
        await consumer.fetches.put([Record(2)])
        await asyncio.sleep(0.3)
        assert reader.read_again == 1
    finally:
        task.cancel()
