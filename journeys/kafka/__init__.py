"""Kafka plumbing shared by the gateway and the responder: settings, profiles, topic admin."""

from journeys.kafka.settings import FETCH_MAX_WAIT_MS, KafkaSettings, Profile

__all__ = ["FETCH_MAX_WAIT_MS", "KafkaSettings", "Profile"]
