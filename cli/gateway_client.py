"""A small HTTP client of the gateway (used by ``journeys lookup``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from journeys.contract import StatusFilter


class LookupFailed(Exception):
    """A lookup that did not return journeys; the message is one line for a person."""


def fetch_customer_journeys(
    customer_id: str,
    *,
    base_url: str,
    api_key: str,
    status: StatusFilter = StatusFilter.OPEN,
    timeout_s: float = 10.0,
    transport: httpx.BaseTransport | None = None,
) -> dict[str, Any]:
    """GET the customer's journeys; returns the decoded body or raises :class:`LookupFailed`."""
    url = f"{base_url.rstrip('/')}/v1/customers/{quote(customer_id, safe='')}/journeys"
    try:
        with httpx.Client(timeout=timeout_s, transport=transport) as client:
            response = client.get(
                url, params={"status": status.value}, headers={"X-API-Key": api_key}
            )
    except httpx.HTTPError as exc:
        raise LookupFailed(f"cannot reach the gateway at {base_url}: {exc}") from exc
    if response.status_code != 200:
        raise LookupFailed(f"HTTP {response.status_code}: {_detail(response)}")
    try:
        body: dict[str, Any] = response.json()
    except ValueError as exc:
        raise LookupFailed("the gateway answered with something that is not JSON") from exc
    return body


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return response.text[:200] or response.reason_phrase
    if isinstance(detail, list):  # FastAPI's validation errors: a list of {loc, msg}
        return "; ".join(str(item.get("msg", item)) for item in detail if isinstance(item, dict))
    return str(detail)
