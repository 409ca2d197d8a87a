"""Kafka plumbing shared by the gateway and the responder: settings, profiles, clients, topic
admin and the embedded broker."""

from journeys.kafka.admin import ensure_topics, product_topics
from journeys.kafka.clients import (
    consumer_kwargs,
    create_consumer,
    create_producer,
    leave_group,
    producer_kwargs,
)
from journeys.kafka.embedded_broker import EmbeddedBroker, find_broker_binary, metadata_probe
from journeys.kafka.errors import (
    BrokerError,
    BrokerNotFound,
    BrokerStartError,
    KafkaSetupError,
    TopicSetupError,
)
from journeys.kafka.settings import FETCH_MAX_WAIT_MS, KafkaSettings, Profile

__all__ = [
    "FETCH_MAX_WAIT_MS",
    "BrokerError",
    "BrokerNotFound",
    "BrokerStartError",
    "EmbeddedBroker",
    "KafkaSettings",
    "KafkaSetupError",
    "Profile",
    "TopicSetupError",
    "consumer_kwargs",
    "create_consumer",
    "create_producer",
    "ensure_topics",
    "find_broker_binary",
    "leave_group",
    "metadata_probe",
    "producer_kwargs",
    "product_topics",
]
