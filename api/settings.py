"""Settings of one gateway process (env prefix ``JOURNEYS_GATEWAY_``).

Built once at start-up (``journeys gateway serve``) and passed to :func:`create_app`. The
gateway lives in the DMZ: it has Kafka settings and API keys, and deliberately no store address
or token (a test checks that nothing under ``api`` imports ``store``).

``JOURNEYS_GATEWAY_API_KEYS`` takes a comma-separated list (or a JSON list) so a key can be
rotated by adding the new one, moving callers over, then removing the old one.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

import orjson
from pydantic import Field, HttpUrl, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from api.hedging import HedgeConfig
from api.partition_breaker import BreakerConfig
from journeys.kafka import KafkaSettings
from journeys.secrets import MIN_SECRET_LENGTH, weak_secret_reason

#: API keys shorter than this are refused: they are guessable.
API_KEY_MIN_LENGTH: Final = MIN_SECRET_LENGTH


class GatewaySettings(BaseSettings):
    """Everything one gateway process needs: where to listen, its keys, its Kafka link."""

    # hide_input_in_errors: a refused key must not be echoed into logs by the error message.
    model_config = SettingsConfigDict(
        env_prefix="JOURNEYS_GATEWAY_", extra="ignore", hide_input_in_errors=True
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    log_level: str = "info"

    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Accepted X-API-Key values (several during a rotation).",
    )

    reply_partition: int = Field(
        default=0, ge=0, description="The one partition of the replies topic this instance owns."
    )
    request_timeout_ms: int = Field(
        default=2_000, ge=10, le=60_000, description="Deadline of every request, from arrival."
    )
    max_in_flight: int = Field(
        default=256, ge=1, description="Requests awaiting a reply at once; beyond it: 429."
    )
    retry_after_s: int = Field(default=1, ge=1, description="Retry-After on 429 and 503.")
    reply_unhealthy_after_ms: int = Field(
        default=2_000,
        ge=100,
        description="Reads of the reply partition failing this long: /readyz 503, lookups 503.",
    )
    reply_reconnect_after_ms: int = Field(
        default=10_000,
        ge=100,
        description="Reads failing this long: the reply reader is restarted (fresh consumer).",
    )

    # Hedged requests (api/hedging.py, docs/reliability.md).
    hedge_enabled: bool = Field(
        default=True, description="Resend a slow request to another request partition."
    )
    hedge_delay_floor_ms: int = Field(
        default=100, ge=1, le=60_000, description="Never hedge sooner than this after sending."
    )
    hedge_delay_ceiling_ms: int = Field(
        default=500, ge=1, le=60_000, description="Always hedge by this time (if budget allows)."
    )
    hedge_budget_ratio: float = Field(
        default=0.1, ge=0.0, le=1.0, description="Hedges earned per request sent (long-run cap)."
    )
    hedge_budget_burst: int = Field(
        default=500, ge=0, description="Most hedges the budget can save up for a bad spell."
    )
    # Rerouting around a silent partition (api/partition_breaker.py, docs/reliability.md).
    reroute_after_strikes: int = Field(
        default=5,
        ge=0,
        description="First copies in a row answered only by their hedge (or not at all) before "
        "requests keyed to that partition go to the next one; 0: never reroute.",
    )
    reroute_probe_interval_ms: int = Field(
        default=1_000,
        ge=10,
        le=60_000,
        description="While rerouting, one request per interval probes the avoided partition.",
    )

    micro_cache_ms: int = Field(
        default=0,
        ge=0,
        le=60_000,
        description="Opt-in micro-cache: answers are served again for this long after their "
        "lookup was sent, and identical lookups in flight share one round trip (api/"
        "answer_cache.py); 0 (default): off, every lookup asks Kafka.",
    )
    micro_cache_entries: int = Field(
        default=10_000, ge=1, le=1_000_000, description="Answers the micro-cache keeps at most."
    )

    # The demo page (/) and ops page (/ops): docs/demo-and-ops.md. Off in production (404).
    demo_pages: bool = Field(default=False, description="Serve / (demo) and /ops (live figures).")
    demo_api_key: SecretStr | None = Field(
        default=None,
        description="Pre-filled on the demo page (embedded stack only); one of api_keys.",
    )
    ops_peers: dict[str, HttpUrl] = Field(
        default_factory=dict,
        description='/ops reads these /metrics URLs, e.g. {"store": "http://…"}.',
    )
    ops_peer_timeout_ms: int = Field(default=500, ge=10, le=5_000, description="Per peer scrape.")

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return orjson.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("api_keys")
    @classmethod
    def _refuse_weak_keys(cls, keys: list[SecretStr]) -> list[SecretStr]:
        if not keys:
            raise ValueError("set at least one API key (JOURNEYS_GATEWAY_API_KEYS)")
        for position, key in enumerate(keys, start=1):
            # The messages name the key's position, never its value: settings errors get logged.
            reason = weak_secret_reason(key.get_secret_value(), API_KEY_MIN_LENGTH)
            if reason is not None:
                raise ValueError(f"API key #{position} {reason}")
        return keys

    @model_validator(mode="after")
    def _demo_key_is_accepted(self) -> GatewaySettings:
        if self.demo_api_key is not None and self.demo_api_key not in self.api_keys:
            raise ValueError("demo_api_key must be one of api_keys (JOURNEYS_GATEWAY_API_KEYS)")
        return self

    @model_validator(mode="after")
    def _partition_exists(self) -> GatewaySettings:
        if self.reply_partition >= self.kafka.partitions:
            raise ValueError(
                f"reply_partition {self.reply_partition} is outside the replies topic "
                f"(JOURNEYS_KAFKA_PARTITIONS={self.kafka.partitions})"
            )
        return self

    @model_validator(mode="after")
    def _hedge_floor_below_ceiling(self) -> GatewaySettings:
        if self.hedge_delay_floor_ms > self.hedge_delay_ceiling_ms:
            raise ValueError("hedge_delay_floor_ms must not exceed hedge_delay_ceiling_ms")
        return self

    def hedge_config(self) -> HedgeConfig:
        """The hedging knobs as :class:`api.hedging.HedgeConfig`."""
        return HedgeConfig(
            enabled=self.hedge_enabled,
            floor_s=self.hedge_delay_floor_ms / 1000,
            ceiling_s=self.hedge_delay_ceiling_ms / 1000,
            ratio=self.hedge_budget_ratio,
            burst=float(self.hedge_budget_burst),
        )

    def breaker_config(self) -> BreakerConfig:
        """The rerouting knobs as :class:`api.partition_breaker.BreakerConfig`."""
        return BreakerConfig(
            strikes=self.reroute_after_strikes, open_s=self.reroute_probe_interval_ms / 1000
        )

    @property
    def deadline_s(self) -> float:
        """The request deadline in seconds."""
        return self.request_timeout_ms / 1000

    def api_key_bytes(self) -> tuple[bytes, ...]:
        """The accepted keys as bytes, for constant-time comparison."""
        return tuple(key.get_secret_value().encode() for key in self.api_keys)
