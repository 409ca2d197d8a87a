"""Settings of one responder process (env prefix ``JOURNEYS_RESPONDER_``).

Built once at start-up (``journeys responder run``) and passed to :class:`Responder`.
Nested settings use ``__``: the store is ``JOURNEYS_RESPONDER_STORE__URL``,
``JOURNEYS_RESPONDER_STORE__TOKEN`` (a reader token; placeholders are refused),
``JOURNEYS_RESPONDER_STORE__TIMEOUT_S``, ``JOURNEYS_RESPONDER_STORE__TLS_ROOT_CERT``. Kafka
comes from the shared ``JOURNEYS_KAFKA_*`` variables (:class:`journeys.kafka.KafkaSettings`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from journeys.kafka import KafkaSettings
from responder.batch import ReplyLimits
from responder.store_lookup import RetryPolicy
from store import StoreClientSettings


class ResponderSettings(BaseSettings):
    """Everything one responder process needs: its group, batching, retry, store and Kafka."""

    model_config = SettingsConfigDict(
        env_prefix="JOURNEYS_RESPONDER_",
        env_nested_delimiter="__",
        extra="ignore",
        hide_input_in_errors=True,  # the store token must not be echoed into logs
    )

    group_id: str = Field(default="journeys-responder", min_length=1)
    group_instance_id: str | None = Field(
        default=None,
        min_length=1,
        description="Static group membership: a restart with the same id takes its partitions "
        "back without a rebalance (unique per responder instance).",
    )
    max_batch: int = Field(default=500, ge=1, le=10_000, description="Records per poll at most.")
    poll_timeout_ms: int = Field(
        default=100, ge=1, le=5_000, description="How long a poll waits; bounds shutdown time."
    )
    reply_expired: bool = Field(
        default=True, description="Answer requests already past their deadline with 'expired'."
    )
    store_attempts: int = Field(default=3, ge=1, le=10, description="Store calls per batch.")
    store_backoff_ms: int = Field(
        default=50, ge=0, le=5_000, description="Pause before the first retry (doubles after)."
    )
    store_min_budget_ms: int = Field(
        default=50, ge=1, description="Least time a batch's lookup gets, even near a deadline."
    )
    store_max_budget_ms: int = Field(
        default=2_000, ge=1, description="Most time a batch's lookup gets, retries included."
    )
    reply_margin_ms: int = Field(
        default=20, ge=0, description="Time kept before a batch's latest deadline to send replies."
    )
    max_journeys_per_reply: int = Field(
        default=1_000,
        ge=1,
        description="Journeys one reply may carry; a customer with more gets 'too_large'.",
    )
    max_reply_bytes: int = Field(
        default=1_000_000,
        ge=1_024,
        description="Bytes of one reply value at most (below the producer's 1 MiB request "
        "limit); a larger reply becomes 'too_large'.",
    )
    max_dead_letter_bytes: int = Field(
        default=65_536,
        ge=4_096,
        description="Bytes of one dead letter at most; a larger record is cut and marked.",
    )
    produce_timeout_ms: int = Field(
        default=10_000, ge=100, description="Wait for a batch's replies to be acknowledged."
    )
    startup_timeout_s: float = Field(
        default=60.0, gt=0, description="How long to keep trying to reach Kafka at start."
    )
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=0, ge=0, le=65535, description="/metrics port; 0 = off.")
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    store: StoreClientSettings

    def retry_policy(self) -> RetryPolicy:
        """The store retry policy these settings describe."""
        return RetryPolicy(
            attempts=self.store_attempts,
            backoff_s=self.store_backoff_ms / 1000,
            min_budget_s=self.store_min_budget_ms / 1000,
            max_budget_s=max(self.store_max_budget_ms, self.store_min_budget_ms) / 1000,
        )

    def reply_limits(self) -> ReplyLimits:
        """The size caps of replies and dead letters these settings describe."""
        return ReplyLimits(
            max_journeys=self.max_journeys_per_reply,
            max_reply_bytes=self.max_reply_bytes,
            max_dead_letter_bytes=self.max_dead_letter_bytes,
        )
