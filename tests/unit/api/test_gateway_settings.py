"""GatewaySettings: keys from env (comma list or JSON), weak keys refused, no store settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api import GatewaySettings
from journeys.kafka import KafkaSettings

GOOD = "9f8e7d6c5b4a39281706"
OTHER = "another-random-key-f00d"


def test_keys_come_from_env_as_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOURNEYS_GATEWAY_API_KEYS", f"{GOOD}, {OTHER}")
    monkeypatch.setenv("JOURNEYS_GATEWAY_REPLY_PARTITION", "5")
    monkeypatch.setenv("JOURNEYS_KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092")

    settings = GatewaySettings()

    assert settings.api_key_bytes() == (GOOD.encode(), OTHER.encode())
    assert settings.reply_partition == 5
    assert settings.kafka.bootstrap_servers == "kafka-1:9092"


def test_keys_may_be_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOURNEYS_GATEWAY_API_KEYS", f'["{GOOD}"]')

    assert GatewaySettings().api_key_bytes() == (GOOD.encode(),)


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ([], "set at least one API key"),
        (["short-key"], "API key #1 is shorter than 16 characters"),
        ([GOOD, "changeme-changeme-123"], "API key #2 is a placeholder"),
        (["aaaaaaaaaaaaaaaaaaaa"], "API key #1 is a placeholder"),
        (["your-example-api-key-here"], "API key #1 is a placeholder"),
    ],
)
def test_missing_short_or_placeholder_keys_are_refused(keys: list[str], message: str) -> None:
    with pytest.raises(ValidationError, match=message) as error:
        GatewaySettings(api_keys=keys)

    for key in keys:
        assert key not in str(error.value)


def test_reply_partition_must_exist_in_the_replies_topic() -> None:
    with pytest.raises(ValidationError, match="reply_partition 8 is outside"):
        GatewaySettings(api_keys=[GOOD], reply_partition=8, kafka=KafkaSettings(partitions=8))


def test_gateway_settings_hold_no_store_address_or_token() -> None:
    names = set(GatewaySettings.model_fields) | set(KafkaSettings.model_fields)

    assert names
    assert not {name for name in names if "store" in name or "token" in name}


def test_defaults_match_the_contract() -> None:
    settings = GatewaySettings(api_keys=[GOOD])

    assert settings.request_timeout_ms == 2_000
    assert settings.deadline_s == 2.0
    assert settings.reply_partition == 0
