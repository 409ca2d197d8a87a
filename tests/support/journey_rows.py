"""The one journey builder of the tests: a row of JOURNEY_SCHEMA, a table, and the reply form."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa

from journeys.schema import JOURNEY_SCHEMA

BASE_TIME = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def journey_row(customer_id: str, journey_id: str, **overrides: Any) -> dict[str, Any]:
    """One valid journey as a dict of JOURNEY_SCHEMA columns; ``overrides`` replace columns.

    ``status="closed"`` also sets ``closed_at`` (to :data:`BASE_TIME`) unless it is given.
    """
    row: dict[str, Any] = {
        "customer_id": customer_id,
        "journey_id": journey_id,
        "campaign": "spring-sale",
        "journey_name": "Spring Sale · step 1",
        "step": 0,
        "channel": "email",
        "content": {"title": "Up to 40% off", "body": "Fresh picks", "cta_url": None,
                    "image_url": None},
        "status": "open",
        "priority": 10,
        "valid_from": BASE_TIME,
        "valid_to": None,
        "created_at": BASE_TIME,
        "updated_at": BASE_TIME,
        "closed_at": None,
        "attributes": '{"discount_pct":40,"tags":["a","b"]}',
    }  # fmt: skip
    row.update(overrides)
    if row["status"] == "closed" and "closed_at" not in overrides:
        row["closed_at"] = BASE_TIME
    return row


def journeys_table(rows: Iterable[dict[str, Any]]) -> pa.Table:
    """An Arrow table of JOURNEY_SCHEMA holding ``rows`` (from :func:`journey_row`)."""
    return pa.Table.from_pylist(list(rows), schema=JOURNEY_SCHEMA)


def reply_journey(customer_id: str, journey_id: str, **overrides: Any) -> dict[str, Any]:
    """:func:`journey_row` as it travels in a reply: ISO-8601 UTC strings, attributes decoded."""
    row = journey_row(customer_id, journey_id)
    for name, value in row.items():
        if isinstance(value, datetime):
            row[name] = value.isoformat().replace("+00:00", "Z")
    row["attributes"] = orjson.loads(row["attributes"])
    row.update(overrides)
    return row
