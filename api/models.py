"""HTTP response models of the gateway, built on the wire contract's :class:`Journey`.

They document the API (OpenAPI at ``/docs``); the lookup route serialises with orjson directly
rather than re-validating every journey through these models.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from journeys.contract import Journey, StatusFilter
from journeys.schema import ID_PATTERN

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
    """An error answer of the gateway: a sentence saying what went wrong and what to do."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"detail": "customer cust-000042 has no open journeys"}]}
    )

    detail: str


class ValidationIssue(BaseModel):
    """One reason FastAPI rejected a request (pydantic's error, as FastAPI sends it)."""

    loc: list[str | int] = Field(description="Where: `path`, `query` or `header`, then the name.")
    msg: str = Field(description="What is wrong, in words.")
    type: str = Field(description="pydantic's error type, e.g. `string_pattern_mismatch`.")
    input: Any = Field(default=None, description="The value that was rejected.")
    ctx: dict[str, Any] | None = Field(default=None, description="Details of the rule broken.")


class ValidationErrorBody(BaseModel):
    """A 422 from the gateway's own checks: ``detail`` lists every problem (FastAPI's format)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "detail": [
                        {
                            "loc": ["path", "customer_id"],
                            "msg": f"String should match pattern '{ID_PATTERN}'",
                            "type": "string_pattern_mismatch",
                            "input": "no such id!",
                            "ctx": {"pattern": ID_PATTERN},
                        }
                    ]
                }
            ]
        }
    )

    detail: list[ValidationIssue]


class Health(BaseModel):
    """Liveness: the process answers."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: Literal["ok"] = "ok"


class ReadinessChecks(BaseModel):
    """What ``/readyz`` checked; every one must hold for the gateway to be ready."""

    kafka_connected: bool = Field(
        description="The producer is started and this gateway's reply partition is assigned."
    )
    replies_readable: bool = Field(
        description="The reply partition is read without errors (a reader failing for more "
        "than a moment makes the gateway not ready)."
    )
    kafka_reachable: bool = Field(description="The broker answers now.")


READY_EXAMPLE: Final[dict[str, Any]] = {
    "status": "ok",
    "checks": {"kafka_connected": True, "replies_readable": True, "kafka_reachable": True},
    "warnings": [],
}
NOT_READY_EXAMPLE: Final[dict[str, Any]] = {
    "status": "not ready",
    "checks": {"kafka_connected": True, "replies_readable": True, "kafka_reachable": False},
    "warnings": [],
}


class Readiness(BaseModel):
    """Readiness: can this gateway serve lookups now?"""

    model_config = ConfigDict(json_schema_extra={"examples": [READY_EXAMPLE]})

    status: Literal["ok", "not ready"]
    checks: ReadinessChecks
    warnings: list[str] = Field(
        default_factory=list,
        description="Problems that do not stop lookups, e.g. another gateway on this one's "
        "reply partition.",
    )

    @classmethod
    def of(cls, checks: ReadinessChecks, warnings: list[str] | None = None) -> Readiness:
        """``ok`` when every check holds, else ``not ready``."""
        ready = checks.kafka_connected and checks.replies_readable and checks.kafka_reachable
        return cls(status="ok" if ready else "not ready", checks=checks, warnings=warnings or [])

    @property
    def ready(self) -> bool:
        """True when every check holds."""
        return self.status == "ok"
