"""Settings of the store server process (env ``JOURNEYS_STORE_*``) and of its clients."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from journeys.secrets import weak_secret_reason
from store.protocol import Role

if TYPE_CHECKING:
    from store.async_client import AsyncStoreClient
    from store.interface import JourneyStore

TokenList = Annotated[list[SecretStr], NoDecode]


def _split_tokens(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _refuse_placeholder(token: SecretStr) -> None:
    reason = weak_secret_reason(token.get_secret_value())
    if reason is not None:
        raise ValueError(f"a store token {reason}: tokens must be real secrets")


class StoreServerSettings(BaseSettings):
    """Everything the ``journeys store serve`` process needs, validated at start-up.

    Token lists are comma-separated so a token can be rotated: add the new one, move the
    clients, drop the old one.
    """

    # hide_input_in_errors: a refused token must not be echoed into logs by the error message.
    model_config = SettingsConfigDict(
        env_prefix="JOURNEYS_STORE_", extra="ignore", hide_input_in_errors=True
    )

    db: Path = Path("journeys.duckdb")
    host: str = "127.0.0.1"
    port: int = Field(default=8815, ge=0, le=65535)
    reader_tokens: TokenList = Field(default_factory=list)
    writer_tokens: TokenList = Field(default_factory=list)
    offloader_tokens: TokenList = Field(default_factory=list)
    admin_tokens: TokenList = Field(default_factory=list)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    #: WAL size that triggers an automatic checkpoint. DuckDB's default (16MB) rewrites the
    #: primary-key index every few batches, so bulk upserts slow down as the table grows.
    checkpoint_threshold: str = "1GB"
    #: DuckDB worker threads (None = one per core).
    threads: int | None = Field(default=None, ge=1)
    memory_limit: str | None = None
    #: ``uncompressed`` makes indexed lookups ~3x faster for ~2.5x the file size; ``auto``
    #: lets DuckDB compress (see docs in store/database.py).
    compression: Literal["uncompressed", "auto"] = "uncompressed"
    #: Customers whose rows the server keeps in memory between lookups (LRU; writes invalidate
    #: them; ~4 KB each, see docs/store-and-offload-performance.md). 0 turns the cache off.
    lookup_cache_customers: int = Field(default=200_000, ge=0)
    #: Bytes of Arrow rows the lookup cache may hold (a few customers with huge rows must not
    #: exhaust memory); least recently used customers are evicted past it. 0: no byte bound.
    lookup_cache_bytes: int = Field(default=512 * 1024 * 1024, ge=0)
    #: Largest ``attributes`` value an upsert may carry, in bytes of UTF-8 (a larger row is
    #: refused; replies carry up to 1000 journeys under a 1 MB cap).
    max_attributes_bytes: int = Field(default=16_384, ge=64)

    _split = field_validator(
        "reader_tokens", "writer_tokens", "offloader_tokens", "admin_tokens", mode="before"
    )(_split_tokens)

    @model_validator(mode="after")
    def _check(self) -> StoreServerSettings:
        tokens = self.role_tokens()
        if not tokens:
            raise ValueError("no tokens configured: set JOURNEYS_STORE_<ROLE>_TOKENS")
        for token in tokens:
            _refuse_placeholder(SecretStr(token))
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("TLS needs both tls_cert and tls_key")
        return self

    def role_tokens(self) -> dict[str, Role]:
        """Token value → role. A token listed under two roles is refused."""
        mapping: dict[str, Role] = {}
        for role, tokens in (
            (Role.READER, self.reader_tokens),
            (Role.WRITER, self.writer_tokens),
            (Role.OFFLOADER, self.offloader_tokens),
            (Role.ADMIN, self.admin_tokens),
        ):
            for token in tokens:
                secret = token.get_secret_value()
                if secret in mapping and mapping[secret] != role:
                    raise ValueError("the same token is configured for two roles")
                mapping[secret] = role
        return mapping


class StoreClientSettings(BaseModel):
    """How a process reaches the store; nest it in that process's settings."""

    model_config = ConfigDict(hide_input_in_errors=True)

    #: ``grpc://``/``grpc+tls://`` (Flight store server) or ``postgresql://`` (PostgreSQL).
    url: str = "grpc://127.0.0.1:8815"
    #: The bearer token (Flight) or the login role's password (PostgreSQL).
    token: SecretStr
    timeout_s: float = Field(default=5.0, gt=0)
    tls_root_cert: Path | None = None
    #: PostgreSQL only: read-only endpoints (hot standbys) for lookups, before the primary.
    read_urls: list[str] = Field(default_factory=list)
    #: PostgreSQL only: how long a read endpoint may take before the next one is asked (s).
    read_attempt_timeout_s: float = Field(default=0.5, gt=0)
    #: PostgreSQL only: a standby replaying further behind the primary than this is skipped
    #: until it catches up (s); 0 never checks.
    max_replay_lag_s: float = Field(default=5.0, ge=0)
    #: PostgreSQL only: accept a url to another host without TLS (``sslmode`` other than
    #: require/verify-ca/verify-full). Off: such a url is refused at start-up.
    allow_plaintext: bool = False

    @field_validator("url")
    @classmethod
    def _url_scheme(cls, value: str) -> str:
        from store.factory import check_url

        return check_url(value)

    @field_validator("token")
    @classmethod
    def _real_token(cls, value: SecretStr) -> SecretStr:
        _refuse_placeholder(value)
        return value

    @model_validator(mode="after")
    def _tls_or_told_otherwise(self) -> StoreClientSettings:
        from store.url_security import plaintext_reason

        if not self.allow_plaintext:
            for url in [self.url, *self.read_urls]:
                if (reason := plaintext_reason(url)) is not None:
                    raise ValueError(f"{reason}, or set allow_plaintext=true")
        return self

    def connect(self) -> JourneyStore:
        """A store client for these settings, backend by the URL's scheme (caller closes it)."""
        from store.factory import open_store

        return open_store(self.url, self.token.get_secret_value(), **self._options())

    def connect_async(self, *, max_workers: int = 4) -> AsyncStoreClient:
        """The async client for these settings (see :func:`store.factory.open_async_store`)."""
        from store.factory import open_async_store

        token = self.token.get_secret_value()
        return open_async_store(
            self.url,
            token,
            max_workers=max_workers,
            read_attempt_timeout=self.read_attempt_timeout_s,
            max_replay_lag=self.max_replay_lag_s,
            **self._options(),
        )

    def _options(self) -> dict[str, Any]:
        root = self.tls_root_cert.read_bytes() if self.tls_root_cert else None
        return {"timeout": self.timeout_s, "tls_root_certs": root, "read_urls": self.read_urls}
