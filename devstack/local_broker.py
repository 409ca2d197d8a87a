"""Which local broker to run: Apache Kafka when a JDK and its jars are found, else Tansu.

``journeys up``, the test fixtures and the benchmarks all choose here, so they agree on what
"a JDK and the jars are found" means (see :func:`devstack.apache_kafka.find_apache_kafka`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from devstack.apache_kafka import ApacheKafkaBroker, find_apache_kafka
from devstack.tansu_broker import TansuBroker
from journeys.kafka.errors import BrokerNotFound

BrokerKind = Literal["auto", "apache", "tansu"]
LocalBroker = ApacheKafkaBroker | TansuBroker

#: Printed when the fallback is used (``journeys up``, the pytest header).
TANSU_WARNING = (
    "Tansu (embedded, memory storage) is a broker for short demos: it keeps every message and"
    " slows down as they pile up until lookups time out (minutes at hundreds of lookups/s)."
    " For the real broker install a JDK 17 and Maven and run `make kafka` (or set"
    " JOURNEYS_KAFKA_HOME to an unpacked Apache Kafka)."
)


@dataclass(frozen=True)
class BrokerChoice:
    """The broker to start and, when it is the fallback, why Apache Kafka was not used."""

    broker: LocalBroker
    fallback_reason: str | None = None


def choose_broker(
    kind: BrokerKind = "auto",
    port: int | None = None,
    *,
    data_dir: Path | None = None,
    log_path: Path | None = None,
    optimise: bool = True,
) -> BrokerChoice:
    """An unstarted local broker of ``kind``; ``auto`` prefers Apache Kafka.

    ``apache`` raises :class:`BrokerNotFound` when no JDK or jars are found; ``auto`` then
    falls back to Tansu and gives the reason.
    """
    if kind == "tansu":
        return BrokerChoice(TansuBroker(port, log_path=log_path))
    try:
        install = find_apache_kafka()
    except BrokerNotFound as exc:
        if kind == "apache":
            raise
        return BrokerChoice(TansuBroker(port, log_path=log_path), str(exc))
    broker = ApacheKafkaBroker(
        port, install=install, data_dir=data_dir, log_path=log_path, optimise=optimise
    )
    return BrokerChoice(broker)
