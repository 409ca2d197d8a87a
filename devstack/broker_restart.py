"""Restart the local broker under running Kafka clients: pause them, restart, recreate topics.

``journeys up``'s Apache Kafka formats its data directory at each start, so the product topics
must be created again before the gateway and responder talk to the new broker (it does not
auto-create topics, and the gateway's reply partition must exist). The clients are paused with
SIGSTOP meanwhile and resumed with SIGCONT; they reconnect by themselves.

Used by ``journeys up`` when the broker crashed.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine, Iterator, Sequence
from typing import Any, Protocol

from journeys.kafka import KafkaSettings, ensure_topics

#: Bound on recreating the topics.
KAFKA_CALL_TIMEOUT_S = 10.0


class RestartableBroker(Protocol):
    """The broker being restarted (a :class:`devstack.ApacheKafkaBroker`)."""

    name: str

    def start(self) -> object:
        """Start and wait until it answers."""

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop it."""


class Pausable(Protocol):
    """A Kafka client process of the stack (a :class:`devstack.ChildProcess`)."""

    def signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the process."""


@contextlib.contextmanager
def paused(clients: Sequence[Pausable]) -> Iterator[None]:
    """SIGSTOP ``clients`` for the block; SIGCONT them on every path."""
    stopped: list[Pausable] = []
    try:
        for client in clients:
            client.signal(signal.SIGSTOP)
            stopped.append(client)
        yield
    finally:
        for client in stopped:
            client.signal(signal.SIGCONT)


def restart_broker(
    broker: RestartableBroker,
    clients: Sequence[Pausable],
    recreate: Callable[[], Coroutine[Any, Any, object]],
) -> None:
    """Stop ``broker`` (at once: it starts empty anyway), start it, run ``recreate``
    (normally :func:`recreate_topics`), all with ``clients`` paused."""
    with paused(clients):
        broker.stop(timeout=0)
        broker.start()
        asyncio.run(recreate())


async def recreate_topics(kafka: KafkaSettings) -> None:
    """Create the product topics the broker lost (bounded by :data:`KAFKA_CALL_TIMEOUT_S`)."""
    async with asyncio.timeout(KAFKA_CALL_TIMEOUT_S):
        await ensure_topics(kafka)
