"""Store settings refuse placeholder secrets and parse comma-separated token lists."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from store import Role, StoreClientSettings, StoreServerSettings


def test_token_lists_are_comma_separated_for_rotation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "JOURNEYS_STORE_READER_TOKENS", "old-reader-token-123456, new-reader-token-123456"
    )
    monkeypatch.setenv("JOURNEYS_STORE_ADMIN_TOKENS", "admin-token-1234567890")
    tokens = StoreServerSettings().role_tokens()
    assert tokens["old-reader-token-123456"] is Role.READER
    assert tokens["new-reader-token-123456"] is Role.READER
    assert tokens["admin-token-1234567890"] is Role.ADMIN


@pytest.mark.parametrize("token", ["changeme", "short"])
def test_placeholder_or_short_tokens_are_refused(token: str) -> None:
    with pytest.raises(ValidationError):
        StoreServerSettings(writer_tokens=[SecretStr(token)])
    with pytest.raises(ValidationError):
        StoreClientSettings(token=SecretStr(token))


def test_a_server_without_tokens_is_refused() -> None:
    with pytest.raises(ValidationError, match="no tokens"):
        StoreServerSettings()
