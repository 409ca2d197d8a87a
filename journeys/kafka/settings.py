"""Kafka client settings shared by the gateway and the responder.

The clients are tuned for Apache Kafka, which answers a waiting fetch as soon as data
arrives: a long fetch wait (500 ms) costs no latency and saves requests. Producers wait for
``acks=all`` and are idempotent (one InitProducerId at start; no duplicates when a send is
retried). Consumer groups keep aiokafka's session and heartbeat defaults. Consumers refresh
their metadata every second: aiokafka fetches without a leader epoch, so after a leader change
Apache Kafka keeps serving it from the old leader (a follower now, lagging, or frozen while it
shuts down) until the consumer asks who leads.

Every broker setting (bootstrap servers, SASL/SSL, topic names, partitions, the waits above)
comes from the environment with the prefix ``JOURNEYS_KAFKA_``.
"""

from __future__ import annotations

import ssl
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from journeys.contract import DLQ_TOPIC, REPLIES_TOPIC, REQUESTS_TOPIC
from journeys.secrets import is_placeholder

#: Defaults of the settings below (each can be set with ``JOURNEYS_KAFKA_*``).
FETCH_MAX_WAIT_MS = 500
SESSION_TIMEOUT_MS = 10_000
HEARTBEAT_INTERVAL_MS = 3_000
CONSUMER_METADATA_MAX_AGE_MS = 1_000
#: What a producer buffers per partition before ``send()`` waits (aiokafka's default: 16 KiB).
PRODUCER_MAX_BATCH_BYTES = 256 * 1024


class KafkaSettings(BaseSettings):
    """Where the brokers are, how to authenticate, and the topics this product uses."""

    # hide_input_in_errors: a refused SASL password must not be echoed into logs.
    model_config = SettingsConfigDict(
        env_prefix="JOURNEYS_KAFKA_", extra="ignore", hide_input_in_errors=True
    )

    bootstrap_servers: str = "127.0.0.1:9092"
    client_id: str = "journeys"

    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    requests_topic: str = REQUESTS_TOPIC
    replies_topic: str = REPLIES_TOPIC
    dlq_topic: str = DLQ_TOPIC
    partitions: int = Field(default=8, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    #: ``min.insync.replicas`` of the topics this process creates (None: the broker's
    #: default). With ``acks=all`` an acknowledged write is on at least this many replicas.
    min_insync_replicas: int | None = Field(default=None, ge=1)
    create_topics: bool = True

    producer_linger_ms: int = Field(default=0, ge=0)
    #: Bytes a producer buffers per partition while that partition's previous batch awaits its
    #: acknowledgement; past it ``send()`` waits, holding everything the caller does next (the
    #: responder's whole poll loop). At most the topics' ``max.message.bytes`` (1 MB default).
    producer_max_batch_bytes: int = Field(
        default=PRODUCER_MAX_BATCH_BYTES, ge=16 * 1024, le=1_000_000
    )
    producer_acks: Literal["0", "1", "all"] = "all"
    fetch_max_wait_ms: int = Field(default=FETCH_MAX_WAIT_MS, ge=0)
    session_timeout_ms: int = Field(default=SESSION_TIMEOUT_MS, ge=1_000)
    heartbeat_interval_ms: int = Field(default=HEARTBEAT_INTERVAL_MS, ge=100)
    request_timeout_ms: int = Field(default=5_000, ge=100)
    consumer_metadata_max_age_ms: int = Field(default=CONSUMER_METADATA_MAX_AGE_MS, ge=100)

    @field_validator("sasl_password")
    @classmethod
    def _refuse_placeholder_password(cls, value: SecretStr | None) -> SecretStr | None:
        # The cluster decides the password policy; we only refuse values copied from a template.
        if value is not None and is_placeholder(value.get_secret_value()):
            raise ValueError("the SASL password is a placeholder; set the real one")
        return value

    @model_validator(mode="after")
    def _min_insync_within_replicas(self) -> KafkaSettings:
        # As deploy/kafka/create-topics.sh refuses it: no acks=all write could ever succeed.
        if self.min_insync_replicas is not None and (
            self.min_insync_replicas > self.replication_factor
        ):
            raise ValueError(
                f"min_insync_replicas ({self.min_insync_replicas}) is above replication_factor"
                f" ({self.replication_factor}): no write with acks=all could ever succeed"
            )
        return self

    def idempotent_producer(self) -> bool:
        """Idempotence needs ``acks=all``; with fewer acknowledgements the producer is plain."""
        return self.producer_acks == "all"

    def connection_kwargs(self) -> dict[str, Any]:
        """aiokafka keyword arguments shared by producers, consumers and the admin client."""
        kwargs: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
            "request_timeout_ms": self.request_timeout_ms,
        }
        if self.security_protocol in ("SSL", "SASL_SSL"):
            context = ssl.create_default_context(cafile=self.ssl_cafile)
            if self.ssl_certfile:
                context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
            kwargs["ssl_context"] = context
        if self.sasl_mechanism is not None:
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            kwargs["sasl_plain_username"] = self.sasl_username
            if self.sasl_password is not None:
                kwargs["sasl_plain_password"] = self.sasl_password.get_secret_value()
        return kwargs
