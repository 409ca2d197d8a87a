"""No settings class of ours echoes a refused secret into its validation error (which is logged)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from api.settings import GatewaySettings
from journeys.kafka import KafkaSettings
from offload.settings import OffloadSettings
from responder.settings import ResponderSettings
from store.settings import StoreClientSettings, StoreServerSettings

#: Weak enough to be refused, distinctive enough to be found in any error text.
SECRET = "changeme-hunter2-leaked"


def _kafka() -> Any:
    return KafkaSettings(sasl_password=SECRET, sasl_mechanism="PLAIN")


BUILDERS: list[tuple[str, Callable[[], Any]]] = [
    ("store server token", lambda: StoreServerSettings(reader_tokens=SECRET)),
    ("store client token", lambda: StoreClientSettings(token=SECRET)),
    ("responder store token", lambda: ResponderSettings(store={"token": SECRET})),
    ("offload store token", lambda: OffloadSettings(store={"token": SECRET})),
    ("gateway API key", lambda: GatewaySettings(api_keys=SECRET)),
    ("Kafka SASL password", _kafka),
]


@pytest.mark.parametrize(("what", "build"), BUILDERS, ids=[what for what, _ in BUILDERS])
def test_a_refused_secret_is_not_echoed_in_the_settings_error(
    what: str, build: Callable[[], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("JOURNEYS_KAFKA_SASL_PASSWORD", "JOURNEYS_STORE_READER_TOKENS"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValidationError) as caught:
        build()
    # str() is what ends up in a traceback (an Airflow task log, a crash report).
    assert SECRET not in str(caught.value), what
    assert SECRET not in repr(caught.value), what
