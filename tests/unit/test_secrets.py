"""Placeholder secrets are refused the same way by every process's settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.settings import GatewaySettings
from journeys.kafka import KafkaSettings
from journeys.secrets import is_placeholder, weak_secret_reason
from store.settings import StoreServerSettings

PLACEHOLDERS = ["CHANGEME", "CHANGEME-admin-token-0001", "replace-with-placeholder-xyz", "x" * 20]


@pytest.mark.parametrize("value", PLACEHOLDERS)
def test_template_values_are_placeholders(value: str) -> None:
    assert is_placeholder(value)


def test_a_random_secret_is_accepted_and_a_short_one_is_not() -> None:
    assert weak_secret_reason("q8V-2kPz_0aLm4RtYw7e") is None
    assert weak_secret_reason("q8V-2kPz") == "is shorter than 16 characters"


def test_reasons_never_echo_the_secret() -> None:
    reason = weak_secret_reason("CHANGEME-admin-token-0001")
    assert reason is not None
    assert "CHANGEME" not in reason


@pytest.mark.parametrize("value", PLACEHOLDERS)
def test_every_settings_class_refuses_placeholders(value: str) -> None:
    with pytest.raises(ValidationError):
        GatewaySettings(api_keys=[value])
    with pytest.raises(ValidationError):
        StoreServerSettings(reader_tokens=[value])
    with pytest.raises(ValidationError):
        KafkaSettings(sasl_mechanism="PLAIN", sasl_password=value)
