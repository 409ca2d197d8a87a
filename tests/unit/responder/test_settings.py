"""Responder settings come from the environment and refuse placeholder secrets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from responder.settings import ResponderSettings


def test_settings_read_nested_store_and_shared_kafka_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOURNEYS_RESPONDER_STORE__URL", "grpc://127.0.0.1:9999")
    monkeypatch.setenv("JOURNEYS_RESPONDER_STORE__TOKEN", "r" * 8 + "x" * 8 + "-reader")
    monkeypatch.setenv("JOURNEYS_RESPONDER_MAX_BATCH", "64")
    monkeypatch.setenv("JOURNEYS_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    settings = ResponderSettings()
    assert settings.store.url == "grpc://127.0.0.1:9999"
    assert settings.max_batch == 64
    assert settings.kafka.bootstrap_servers == "127.0.0.1:19092"
    assert settings.retry_policy().attempts == settings.store_attempts


def test_placeholder_store_token_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOURNEYS_RESPONDER_STORE__TOKEN", "changeme")
    with pytest.raises(ValidationError, match="store"):
        ResponderSettings()


def test_missing_store_token_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOURNEYS_RESPONDER_STORE__TOKEN", raising=False)
    with pytest.raises(ValidationError, match="store"):
        ResponderSettings()
