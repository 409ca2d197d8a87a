"""Kafka plumbing shared by the gateway and the responder: settings, clients, topic
admin. The development broker lives in :mod:`devstack`."""

from journeys.kafka.admin import ensure_topics, product_topics, topic_configs
from journeys.kafka.clients import (
    PRODUCER_BROKEN,
    consumer_kwargs,
    create_consumer,
    create_producer,
    producer_kwargs,
    replace_producer,
)
from journeys.kafka.errors import (
    BrokerError,
    BrokerNotFound,
    BrokerStartError,
    KafkaSetupError,
    TopicSetupError,
)
from journeys.kafka.settings import FETCH_MAX_WAIT_MS, KafkaSettings

__all__ = [
    "FETCH_MAX_WAIT_MS",
    "PRODUCER_BROKEN",
    "BrokerError",
    "BrokerNotFound",
    "BrokerStartError",
    "KafkaSettings",
    "KafkaSetupError",
    "TopicSetupError",
    "consumer_kwargs",
    "create_consumer",
    "create_producer",
    "ensure_topics",
    "producer_kwargs",
    "product_topics",
    "replace_producer",
    "topic_configs",
]
