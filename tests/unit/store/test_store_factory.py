"""``open_store`` picks the backend by the URL's scheme; both satisfy the one interface."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from store import (
    AsyncStoreClient,
    JourneyStore,
    StoreClient,
    StoreClientSettings,
    open_async_store,
    open_store,
)
from store.postgres.async_lookups import PostgresAsyncStore
from store.postgres.client import PostgresStore
from store.postgres.connections import build_conninfo, redacted

TOKEN = "a-real-looking-token-1234567890"


@pytest.mark.parametrize(
    ("url", "backend"),
    [
        ("grpc://127.0.0.1:1", StoreClient),
        ("grpc+tcp://127.0.0.1:1", StoreClient),
        ("postgresql://journeys_reader@127.0.0.1:1/journeys", PostgresStore),
        ("postgres://journeys_reader@127.0.0.1:1/journeys", PostgresStore),
    ],
)
def test_the_url_scheme_chooses_the_backend_without_connecting(url: str, backend: type) -> None:
    with open_store(url, TOKEN) as client:
        assert isinstance(client, backend)
        assert isinstance(client, JourneyStore)


def test_an_unknown_scheme_and_misplaced_read_urls_are_refused() -> None:
    with pytest.raises(ValueError, match="store url must start with"):
        open_store("http://127.0.0.1:1", TOKEN)
    with pytest.raises(ValueError, match="read urls"):
        open_store("grpc://127.0.0.1:1", TOKEN, read_urls=["postgresql://x@h/db"])


LOCAL_PG = "postgresql://journeys_reader@127.0.0.1:5432/journeys"


def test_client_settings_accept_postgresql_with_read_urls() -> None:
    settings = StoreClientSettings(
        url="postgresql://journeys_reader@primary/journeys?sslmode=verify-full",
        token=SecretStr(TOKEN),
        read_urls=["postgresql://journeys_reader@standby/journeys?sslmode=require"],
    )
    assert isinstance(settings.connect(), PostgresStore)
    with pytest.raises(ValidationError):
        StoreClientSettings(url="mysql://x@h/db", token=SecretStr(TOKEN))


def test_the_token_becomes_the_password_and_is_never_shown() -> None:
    conninfo = build_conninfo("postgresql://journeys_reader@db:5433/journeys", TOKEN)
    assert TOKEN in conninfo
    assert TOKEN not in redacted(conninfo)
    assert redacted(conninfo) == "db:5433/journeys as journeys_reader"
    kept = build_conninfo("postgresql://u:inurl@db/journeys", TOKEN)
    assert "inurl" in kept
    assert TOKEN not in kept


async def test_the_async_postgresql_client_awaits_lookups_natively() -> None:
    pg = open_async_store("postgresql://journeys_reader@127.0.0.1:1/journeys", TOKEN)
    flight = open_async_store("grpc://127.0.0.1:1", TOKEN)
    try:
        assert isinstance(pg, PostgresAsyncStore)
        assert type(flight) is AsyncStoreClient
    finally:
        await pg.aclose()
        await flight.aclose()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://journeys_reader@db.internal/journeys",
        "postgresql://journeys_reader@db.internal/journeys?sslmode=prefer",
        "postgresql://journeys_reader@127.0.0.1,db.internal/journeys?sslmode=disable",
    ],
)
def test_a_postgresql_url_to_another_host_without_tls_is_refused(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # libpq's default sslmode=prefer falls back to plaintext and checks no certificate.
    monkeypatch.delenv("PGSSLMODE", raising=False)
    with pytest.raises(ValidationError, match=r"sslmode=verify-full"):
        StoreClientSettings(url=url, token=SecretStr(TOKEN))
    with pytest.raises(ValidationError, match=r"sslmode"):
        StoreClientSettings(url=LOCAL_PG, token=SecretStr(TOKEN), read_urls=[url])
    assert StoreClientSettings(url=url, token=SecretStr(TOKEN), allow_plaintext=True).url == url


@pytest.mark.parametrize(
    "url",
    [
        LOCAL_PG,
        "postgresql://journeys_reader@localhost/journeys",
        "postgresql://journeys_reader@[::1]:5433/journeys",
        "postgresql://journeys_reader@/journeys?host=/var/run/postgresql",
        "postgresql://journeys_reader@db.internal/journeys?sslmode=verify-full",
        "grpc://store.internal:8815",
    ],
)
def test_local_and_tls_urls_are_accepted(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGSSLMODE", raising=False)
    assert StoreClientSettings(url=url, token=SecretStr(TOKEN)).url == url


def test_pgsslmode_in_the_environment_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGSSLMODE", "verify-full")
    url = "postgresql://journeys_reader@db.internal/journeys"
    assert StoreClientSettings(url=url, token=SecretStr(TOKEN)).url == url
