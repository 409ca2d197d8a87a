"""``journeys up`` switches the pages on, pre-fills its key and points /ops at its peers."""

from __future__ import annotations

from pathlib import Path

import pytest

from api import GatewaySettings
from devstack import EmbeddedStack, StackSettings

#: An external Kafka, so these tests need no JDK (nothing connects to it).
EXTERNAL_KAFKA = "kafka.internal:9092"


def _gateway_settings(stack: EmbeddedStack, monkeypatch: pytest.MonkeyPatch) -> GatewaySettings:
    for name, value in stack.processes.gateway(stack.urls.api).env.items():
        monkeypatch.setenv(name, value)
    return GatewaySettings()


def test_the_embedded_gateway_serves_the_pages_with_both_peers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = EmbeddedStack(
        StackSettings(
            data_dir=tmp_path,
            store_metrics_port=9302,
            responder_metrics_port=9301,
            external_kafka=EXTERNAL_KAFKA,
        )
    )

    settings = _gateway_settings(stack, monkeypatch)

    assert settings.demo_pages is True
    assert settings.demo_api_key is not None
    assert settings.demo_api_key.get_secret_value() == stack.secrets.api_key
    assert {name: str(url) for name, url in settings.ops_peers.items()} == {
        "responder": "http://127.0.0.1:9301/metrics",
        "store": "http://127.0.0.1:9302/metrics",
    }


def test_with_an_external_store_only_the_responder_is_scraped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = EmbeddedStack(
        StackSettings(
            data_dir=tmp_path,
            external_kafka=EXTERNAL_KAFKA,
            external_store_url="grpc://store.internal:8815",
            external_store_token="t0ken-of-the-external-store",
        )
    )

    settings = _gateway_settings(stack, monkeypatch)

    assert list(settings.ops_peers) == ["responder"]
