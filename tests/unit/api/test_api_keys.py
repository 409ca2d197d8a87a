"""API keys: X-API-Key checked against the configured keys; 401 with a useful body."""

from __future__ import annotations

import logging

import pytest

from tests.support.gateway_app import API_KEY, OLD_API_KEY, Gateway


async def test_missing_api_key_is_401_saying_which_header(gateway: Gateway) -> None:
    response = await gateway.http.get("/v1/customers/cust-1/journeys")

    assert response.status_code == 401
    assert response.json() == {"detail": "missing API key: send it in the X-API-Key header"}
    assert gateway.kafka.sent == []


async def test_wrong_api_key_is_401(gateway: Gateway) -> None:
    response = await gateway.lookup("cust-1", headers={"X-API-Key": API_KEY + "x"})

    assert response.status_code == 401
    assert response.json() == {"detail": "invalid API key"}
    assert gateway.kafka.sent == []


async def test_every_configured_key_is_accepted_during_a_rotation(gateway: Gateway) -> None:
    new = await gateway.lookup("cust-1", headers={"X-API-Key": API_KEY})
    old = await gateway.lookup("cust-1", headers={"X-API-Key": OLD_API_KEY})

    assert (new.status_code, old.status_code) == (200, 200)


async def test_api_key_is_checked_before_the_customer_id(gateway: Gateway) -> None:
    response = await gateway.http.get("/v1/customers/-bad-/journeys")

    assert response.status_code == 401


async def test_api_keys_never_reach_the_logs(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "wrong-key-that-must-not-be-logged"
    with caplog.at_level(logging.DEBUG):
        await gateway.lookup("cust-1")
        await gateway.lookup("cust-1", headers={"X-API-Key": wrong})
        await gateway.lookup("-bad-")

    assert caplog.records, "the gateway should log something at DEBUG for this test to mean much"
    for secret in (API_KEY, OLD_API_KEY, wrong):
        assert secret not in caplog.text
