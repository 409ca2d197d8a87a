"""Errors of the Kafka plumbing (topic admin and the embedded broker).

    KafkaSetupError             base class
    ├── TopicSetupError         topics could not be created or checked
    └── BrokerError             the local Apache Kafka broker
        ├── BrokerNotFound      no JDK or jars for Apache Kafka
        └── BrokerStartError    the broker exited or did not answer a metadata request in time

aiokafka exceptions are translated to these in ``admin.py``; the local broker launchers
(devstack) raise the broker errors.
"""

from __future__ import annotations


class KafkaSetupError(Exception):
    """Base class of the errors raised while preparing Kafka for this product."""


class TopicSetupError(KafkaSetupError):
    """A topic could not be created, or exists with too few partitions."""


class BrokerError(KafkaSetupError):
    """A local broker could not be used."""


class BrokerNotFound(BrokerError):
    """What a local broker needs (a JDK and the Apache Kafka jars) was not found."""


class BrokerStartError(BrokerError):
    """The broker process exited early or never became ready."""
