"""Errors of the Kafka plumbing (topic admin and the embedded broker).

    KafkaSetupError             base class
    ├── TopicSetupError         topics could not be created or checked
    └── BrokerError             a local broker (Apache Kafka or Tansu)
        ├── BrokerNotFound      no JDK or jars for Apache Kafka, no Tansu binary
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
    """What a local broker needs (a JDK and jars, or a Tansu binary) was not found."""


class BrokerStartError(BrokerError):
    """The broker process exited early or never became ready."""
