"""Restart the Tansu fallback broker before the messages it keeps slow it down.

Tansu 0.6.0 (memory storage) keeps every message: it enforces no retention and has no
DeleteRecords. A fetch costs more the more messages its partition holds, and the gateway reads
one reply partition that receives every reply, so a local stack at a few hundred lookups/s
collapsed after about four minutes (issue 13). ``journeys up`` on Tansu therefore watches the
largest partition and, past ``max_messages``, restarts the broker empty on the same port and
recreates the topics. The Kafka clients (gateway, responder) are paused with SIGSTOP meanwhile:
otherwise their first metadata request would auto-create a topic with Tansu's default
partition count before ours exist. Resumed, they reconnect by themselves: the gateway's
producer retries, its reply reader finds its partition ending before its position and reads it
from the start and sends the lookups still waiting again (their requests or replies went
with the old log), and the responder rejoins its group (half a session timeout on Tansu) and,
with no committed offsets left, reads the new partitions from the start. Lookups whose deadline
ends before that may fail (504; 0.35 % of a 10-minute soak at 300/s, docs/performance.md);
nothing else is lost, because nothing on these topics outlives its deadline.

Apache Kafka needs none of this: it applies the topics' retention.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from devstack.broker_restart import (
    KAFKA_CALL_TIMEOUT_S,
    Pausable,
    RestartableBroker,
    paused,
    recreate_topics,
    restart_broker,
)
from journeys.kafka import KafkaSettings, product_topics

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_MAX_MESSAGES", "TansuRecycler", "paused"]

#: Restart once a partition holds this many messages (the reply partition gets there first).
#: Measured with bench/soak.py at 300 lookups/s: Tansu's CPU climbs from 65 % of a core in the
#: first minute (about 18k replies held) to 96 % in the second, after which the responder
#: starves and lookups slow down; 12k keeps it below that (a restart every ~40 s at 300/s).
DEFAULT_MAX_MESSAGES = 12_000
#: How often the partitions' end offsets are read.
DEFAULT_CHECK_INTERVAL_S = 5.0


class TansuRecycler:
    """Watches the largest partition of the product topics; restarts the broker past a limit."""

    def __init__(
        self,
        broker: RestartableBroker,
        kafka: KafkaSettings,
        *,
        max_messages: int = DEFAULT_MAX_MESSAGES,
        check_interval_s: float = DEFAULT_CHECK_INTERVAL_S,
        clients: Sequence[Pausable] = (),
        on_restart: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.broker = broker
        self.kafka = kafka
        self.max_messages = max_messages
        self.check_interval_s = check_interval_s
        self.clients = clients
        self.on_restart = on_restart
        self.restarts = 0
        self._clock = clock
        self._next_check = clock() + check_interval_s

    def tick(self) -> None:
        """Called from the supervisor's watch loop: check when due, restart when needed."""
        now = self._clock()
        if now < self._next_check:
            return
        self._next_check = now + self.check_interval_s
        try:
            held = asyncio.run(self.largest_partition())
        except (KafkaError, TimeoutError, OSError) as exc:
            log.warning("cannot read the broker's end offsets: %s", exc)
            return
        if held >= self.max_messages:
            self.restart(f"a partition holds {held:,} messages (limit {self.max_messages:,})")

    async def largest_partition(self) -> int:
        """The most messages any partition of the product topics holds."""
        consumer = AIOKafkaConsumer(
            client_id=f"{self.kafka.client_id}-recycler", **self.kafka.connection_kwargs()
        )
        async with asyncio.timeout(KAFKA_CALL_TIMEOUT_S):
            await consumer.start()
            try:
                # An unsubscribed consumer holds no topic metadata: fetch the cluster's.
                cluster = await consumer._client.fetch_all_metadata()
                partitions = [
                    TopicPartition(topic, p)
                    for topic in product_topics(self.kafka)
                    for p in sorted(cluster.partitions_for_topic(topic) or ())
                ]
                if not partitions:
                    return 0
                ends = await consumer.end_offsets(partitions)
                starts = await consumer.beginning_offsets(partitions)
                return max(int(ends[tp]) - int(starts[tp]) for tp in partitions)
            finally:
                await consumer.stop()

    def restart(self, why: str) -> None:
        """Stop the broker, start it empty on the same port and recreate the topics."""
        started = self._clock()
        restart_broker(self.broker, self.clients, self._recreate_topics)
        self.restarts += 1
        message = (
            f"restarted {self.broker.name} ({why}) in {self._clock() - started:.1f} s;"
            " lookups in flight may have failed"
        )
        if self.on_restart is None:
            log.warning("%s", message)
        else:
            self.on_restart(message)

    async def _recreate_topics(self) -> None:
        await recreate_topics(self.kafka)
