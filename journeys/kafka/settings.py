"""Kafka client settings shared by the gateway and the responder.

Two profiles of client tuning:

``embedded``  Tansu, the fallback broker of ``journeys up`` and the tests when no JDK is found.
              Tansu answers a waiting fetch only when ``fetch_max_wait_ms`` expires, so the wait
              is short (it sets the latency floor of each hop); its group joins take half a
              session timeout, so the session is short; it cannot give a producer id, so the
              producer is not idempotent. All three are workarounds for Tansu only.
``apache``    Apache Kafka (production, and locally when a JDK is found), which answers a
              waiting fetch as soon as data arrives: a long wait costs no latency and saves
              requests. Producers wait for ``acks=all`` and are idempotent (one InitProducerId
              at start; no duplicates when a send is retried).

Every broker setting (bootstrap servers, SASL/SSL, topic names, partitions) comes from the
environment with the prefix ``JOURNEYS_KAFKA_``.
"""

from __future__ import annotations

import ssl
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from journeys.contract import DLQ_TOPIC, REPLIES_TOPIC, REQUESTS_TOPIC
from journeys.secrets import is_placeholder

Profile = Literal["embedded", "apache"]

#: Fetch wait (ms) per profile; see the module docstring for why they differ. Embedded: 5 ms
#: measured (bench/e2e_bench.py, docs/performance.md) ~3 ms lower p50 than 10 ms at low load
#: for ~7 % of a core more idle polling (broker + two consumers); 2 ms cost ~20 % more again.
FETCH_MAX_WAIT_MS: dict[str, int] = {"embedded": 5, "apache": 500}

#: Consumer-group session timeout and heartbeat interval (ms) per profile. Tansu holds a
#: JoinGroup for about half the session timeout before it completes a rebalance (measured:
#: 10 s session -> 5 s first join, 6 s -> 3 s, 2 s -> 1 s). Every recycle of the Tansu
#: fallback (devstack/tansu_recycler.py) is such a join, and lookups wait through it,
#: so the embedded profile uses a 2 s session with quick heartbeats (one local responder, no
#: network in between); Apache Kafka keeps aiokafka's defaults.
#: Producer acknowledgements per profile: Apache Kafka ``all`` (what idempotence needs; on one
#: local node it costs nothing more than ``1``), Tansu ``1``.
PRODUCER_ACKS: dict[str, Literal["0", "1", "all"]] = {"embedded": "1", "apache": "all"}

SESSION_TIMEOUT_MS: dict[str, int] = {"embedded": 2_000, "apache": 10_000}
HEARTBEAT_INTERVAL_MS: dict[str, int] = {"embedded": 400, "apache": 3_000}


class KafkaSettings(BaseSettings):
    """Where the brokers are, how to authenticate, and the topics this product uses."""

    # hide_input_in_errors: a refused SASL password must not be echoed into logs.
    model_config = SettingsConfigDict(
        env_prefix="JOURNEYS_KAFKA_", extra="ignore", hide_input_in_errors=True
    )

    bootstrap_servers: str = "127.0.0.1:9092"
    profile: Profile = "embedded"
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
    create_topics: bool = True

    producer_linger_ms: int = Field(default=0, ge=0)
    producer_acks: Literal["0", "1", "all"] | None = None
    fetch_max_wait_ms: int | None = Field(default=None, ge=0)
    session_timeout_ms: int | None = Field(default=None, ge=1_000)
    heartbeat_interval_ms: int | None = Field(default=None, ge=100)
    request_timeout_ms: int = Field(default=5_000, ge=100)

    @field_validator("sasl_password")
    @classmethod
    def _refuse_placeholder_password(cls, value: SecretStr | None) -> SecretStr | None:
        # The cluster decides the password policy; we only refuse values copied from a template.
        if value is not None and is_placeholder(value.get_secret_value()):
            raise ValueError("the SASL password is a placeholder; set the real one")
        return value

    def effective_producer_acks(self) -> Literal["0", "1", "all"]:
        """The configured producer acks, or the profile's default."""
        return self.producer_acks or PRODUCER_ACKS[self.profile]

    def idempotent_producer(self) -> bool:
        """Apache Kafka with ``acks=all``: Tansu cannot give a producer id."""
        return self.profile == "apache" and self.effective_producer_acks() == "all"

    def effective_fetch_max_wait_ms(self) -> int:
        """The configured fetch wait, or the profile's default."""
        if self.fetch_max_wait_ms is not None:
            return self.fetch_max_wait_ms
        return FETCH_MAX_WAIT_MS[self.profile]

    def effective_session_timeout_ms(self) -> int:
        """The configured consumer-group session timeout, or the profile's default."""
        if self.session_timeout_ms is not None:
            return self.session_timeout_ms
        return SESSION_TIMEOUT_MS[self.profile]

    def effective_heartbeat_interval_ms(self) -> int:
        """The configured heartbeat interval, or the profile's default."""
        if self.heartbeat_interval_ms is not None:
            return self.heartbeat_interval_ms
        return HEARTBEAT_INTERVAL_MS[self.profile]

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
