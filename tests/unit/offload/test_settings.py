"""OffloadSettings: env prefix, nested store settings, refused placeholders."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from offload import OffloadSettings
from offload.settings import settings_with_overrides


def test_settings_come_from_the_offload_prefix_with_a_nested_store(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOURNEYS_OFFLOAD_LAKE_URI", "s3://bucket/lake")
    monkeypatch.setenv("JOURNEYS_OFFLOAD_STORE__URL", "grpc+tls://store:8815")
    monkeypatch.setenv("JOURNEYS_OFFLOAD_STORE__TOKEN", "offloader-token-0123456789")
    monkeypatch.setenv("JOURNEYS_OFFLOAD_ROW_GROUP_SIZE", "250000")
    settings = OffloadSettings()
    assert settings.lake_uri == "s3://bucket/lake"
    assert settings.store.url == "grpc+tls://store:8815"
    assert settings.store.token.get_secret_value() == "offloader-token-0123456789"
    assert settings.row_group_size == 250_000
    assert settings.compression == "zstd"


def test_defaults_put_the_lake_and_the_catalog_side_by_side(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOURNEYS_OFFLOAD_STORE__TOKEN", "offloader-token-0123456789")
    settings = OffloadSettings()
    assert settings.lake_uri == "./lake"
    assert str(settings.catalog_path) == "analytics.duckdb"


@pytest.mark.parametrize("token", ["changeme", "short"])
def test_placeholder_store_tokens_are_refused(token: str) -> None:
    with pytest.raises(ValidationError, match="real secrets"):
        OffloadSettings(store={"token": token})


def test_the_store_token_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOURNEYS_OFFLOAD_STORE__TOKEN", raising=False)
    with pytest.raises(ValidationError, match="store"):
        OffloadSettings()


@pytest.mark.parametrize(
    ("conn_type", "login", "database", "extra", "url"),
    [
        ("generic", None, None, {}, "grpc://store:8815"),
        ("generic", None, None, {"tls": True}, "grpc+tls://store:8815"),
        ("postgres", "journeys_offloader", "journeys", {"sslmode": "verify-full"},
         "postgresql://journeys_offloader@store:8815/journeys?sslmode=verify-full"),
        ("postgres", "journeys_offloader", "journeys", {"allow_plaintext": True},
         "postgresql://journeys_offloader@store:8815/journeys"),
    ],
)  # fmt: skip
def test_an_airflow_connection_names_a_flight_or_a_postgresql_store(
    monkeypatch: pytest.MonkeyPatch,
    conn_type: str,
    login: str | None,
    database: str | None,
    extra: dict[str, object],
    url: str,
) -> None:
    monkeypatch.delenv("JOURNEYS_OFFLOAD_STORE__URL", raising=False)
    settings = settings_with_overrides(
        store_host="store",
        store_port=8815,
        store_token="offloader-token-0123456789",
        store_extra=extra,
        store_conn_type=conn_type,
        store_login=login,
        store_database=database,
    )
    assert settings.store.url == url
    assert settings.store.token.get_secret_value() == "offloader-token-0123456789"
