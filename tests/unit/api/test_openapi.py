"""The OpenAPI document the web team reads: id rules, auth scheme, errors and examples."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from journeys.schema import ID_MAX_LENGTH, ID_PATTERN
from tests.support.fake_kafka import FakeKafka
from tests.support.gateway_app import Gateway

PATH = "/v1/customers/{customer_id}/journeys"


async def openapi(gateway: Gateway) -> dict[str, Any]:
    response = await gateway.http.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


async def test_customer_id_pattern_and_max_length_are_documented(gateway: Gateway) -> None:
    operation = (await openapi(gateway))["paths"][PATH]["get"]

    [customer_id] = [p for p in operation["parameters"] if p["name"] == "customer_id"]
    assert customer_id["schema"]["pattern"] == ID_PATTERN
    assert customer_id["schema"]["maxLength"] == ID_MAX_LENGTH
    [status] = [p for p in operation["parameters"] if p["name"] == "status"]
    assert status["schema"]["default"] == "open"


async def test_api_key_scheme_and_error_answers_are_documented(gateway: Gateway) -> None:
    document = await openapi(gateway)
    operation = document["paths"][PATH]["get"]

    scheme = document["components"]["securitySchemes"]["APIKeyHeader"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "X-API-Key")
    assert operation["security"] == [{"APIKeyHeader": []}]
    assert set(operation["responses"]) >= {"200", "401", "404", "422", "429", "503", "504"}
    ok_schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok_schema == {"$ref": "#/components/schemas/CustomerJourneys"}
    examples = document["components"]["schemas"]["CustomerJourneys"]["examples"]
    assert examples[0]["journeys"][0]["content"]["title"]


async def test_docs_page_is_served(gateway: Gateway) -> None:
    response = await gateway.http.get("/docs")

    assert response.status_code == 200
    assert "swagger" in response.text.lower()


class UnreachableKafka(FakeKafka):
    """Connected (reply partition assigned) but the broker does not answer now."""

    async def ready(self) -> bool:
        return False


async def test_readyz_documented_examples_are_what_it_answers(
    start_gateway: Callable[..., Any],
) -> None:
    ready: Gateway = await start_gateway()
    not_ready: Gateway = await start_gateway(kafka=UnreachableKafka())
    document = await openapi(ready)
    responses = document["paths"]["/readyz"]["get"]["responses"]
    ready_example = document["components"]["schemas"]["Readiness"]["examples"][0]
    not_ready_example = responses["503"]["content"]["application/json"]["example"]

    ok = await ready.http.get("/readyz")
    refused = await not_ready.http.get("/readyz")

    assert (ok.status_code, ok.json()) == (200, ready_example)
    assert (refused.status_code, refused.json()) == (503, not_ready_example)
