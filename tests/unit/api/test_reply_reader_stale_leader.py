"""A reply reader that may be reading a former leader asks who leads now, and only then.

aiokafka fetches without a leader epoch, so after a leader change Apache Kafka keeps serving the
reader from the old leader (a follower now, frozen while it shuts down): replies written to the
new leader were not seen until that broker closed the connection, 2 s later in the three-broker
rolling restart (tests/cluster/test_kafka_cluster.py), and 189 lookups answered 504.
"""

from __future__ import annotations

import asyncio

from api.reply_reader import ReplyReader
from api.reply_router import ReplyRouter
from journeys.kafka import KafkaSettings
from tests.unit.api.test_reply_reader_positions import Record, ScriptedConsumer

STALE_AFTER_S = 0.1


async def _reading(consumer: ScriptedConsumer, router: ReplyRouter) -> asyncio.Task[None]:
    reader = ReplyReader(
        KafkaSettings(bootstrap_servers="127.0.0.1:9"), 0, router, stale_after_s=STALE_AFTER_S
    )
    reader._next_offset = consumer.position_now
    return asyncio.create_task(reader._read_forever(consumer))


async def test_requests_waiting_without_a_reply_refresh_the_metadata_once_per_interval() -> None:
    router = ReplyRouter()
    router.expect("c-1")
    consumer = ScriptedConsumer(position=10, highwater=10)
    task = await _reading(consumer, router)
    try:
        await asyncio.sleep(0.75)  # idle reads every 200 ms, nothing arrives
        refreshes = consumer._client.metadata_updates
        assert 1 <= refreshes <= 0.75 / STALE_AFTER_S
    finally:
        task.cancel()


async def test_silence_while_nobody_waits_costs_no_metadata_request() -> None:
    router = ReplyRouter()
    consumer = ScriptedConsumer(position=10, highwater=10)
    task = await _reading(consumer, router)
    try:
        await asyncio.sleep(0.5)
        assert consumer._client.metadata_updates == 0
    finally:
        task.cancel()


async def test_replies_arriving_while_requests_wait_cost_no_metadata_request() -> None:
    router = ReplyRouter()
    router.expect("c-1")
    consumer = ScriptedConsumer(position=10, highwater=10)
    task = await _reading(consumer, router)
    try:
        for offset in range(10, 20):  # another request's replies keep coming
            await consumer.fetches.put([Record(offset)])
            await asyncio.sleep(STALE_AFTER_S / 2)
        assert consumer._client.metadata_updates == 0
    finally:
        task.cancel()
