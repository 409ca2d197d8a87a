"""HTTP response models of the gateway, built on the wire contract's :class:`Journey`.

They document the API (OpenAPI at ``/docs``); the lookup route serialises with orjson directly
rather than re-validating every journey through these models.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

from journeys.contract import Journey, StatusFilter

EXAMPLE_JOURNEY: Final[dict[str, Any]] = {
    "customer_id": "cust-000042",
    "journey_id": "j-7f3a9c",
    "campaign": "spring-sale-2025",
    "journey_name": "Spring sale: welcome back",
    "step": 1,
    "channel": "web",
    "content": {
        "title": "20% off your next order",
        "body": "Welcome back! Here is a spring treat for you.",
        "cta_url": "https://shop.example.com/spring",
        "image_url": "https://cdn.example.com/spring.png",
    },
    "status": "open",
    "priority": 10,
    "valid_from": "2025-03-01T00:00:00Z",
    "valid_to": "2025-04-30T23:59:59Z",
    "created_at": "2025-02-20T09:15:00Z",
    "updated_at": "2025-03-02T08:00:00Z",
    "closed_at": None,
    "attributes": {"segment": "lapsed", "discount_pct": 20},
}


class CustomerJourneys(BaseModel):
    """A customer's journeys, most important (lowest ``priority``) first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"customer_id": "cust-000042", "status": "open", "journeys": [EXAMPLE_JOURNEY]}
            ]
        }
    )

    customer_id: str = Field(description="The customer id from the path.")
    status: StatusFilter = Field(description="The filter that was applied.")
    journeys: list[Journey] = Field(description="Sorted by priority, then journey id.")


class ErrorBody(BaseModel):
    """Every error answer: a sentence saying what went wrong and what to do."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"detail": "customer cust-000042 has no open journeys"}]}
    )

    detail: str


class Health(BaseModel):
    """Liveness or readiness."""

    status: str = Field(examples=["ok"])
    checks: dict[str, bool] = Field(
        default_factory=dict,
        examples=[{"kafka_connected": True, "replies_readable": True, "kafka_reachable": True}],
    )
    warnings: list[str] = Field(
        default_factory=list,
        description="Problems that do not stop lookups, e.g. another gateway on this one's "
        "reply partition.",
    )
