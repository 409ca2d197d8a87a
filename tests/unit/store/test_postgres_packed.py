"""Unpacking a packed PostgreSQL lookup result (store.postgres.arrow_io) without a server."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from journeys.schema import JOURNEY_SCHEMA
from store.errors import StoreInternalError
from store.postgres.arrow_io import _FIXED_DTYPE, _TEXT_COLUMNS, packed_to_table

_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _micros(moment: datetime) -> int:
    return (moment - _PG_EPOCH) // np.timedelta64(1, "us").item()


def _packed(rows: list[dict[str, object]]) -> tuple[object, ...]:
    """What PostgreSQL sends for these flat rows (see packed_select_sql)."""
    fixed = np.zeros(len(rows), dtype=_FIXED_DTYPE)
    for index, row in enumerate(rows):
        for name in _FIXED_DTYPE.names or ():
            column = name.removesuffix("_null")
            if name.endswith("_null"):
                fixed[name][index] = row[column] is None
            elif isinstance(row[name], datetime):
                fixed[name][index] = _micros(row[name])  # type: ignore[arg-type]
            elif row[name] is not None:
                fixed[name][index] = row[name]
    texts = [
        b"\x00".join((row[name] or "").encode() for row in rows)  # type: ignore[attr-defined]
        for name in _TEXT_COLUMNS
    ]
    return (len(rows), fixed.tobytes(), *texts)


def _flat_row(customer: str, **overrides: object) -> dict[str, object]:
    moment = datetime(2026, 12, 8, 1, 2, 3, 456789, tzinfo=UTC)
    row: dict[str, object] = {name: f"{name}-{customer}" for name in _TEXT_COLUMNS}
    row |= {"customer_id": customer, "status": "open", "step": 1, "priority": -3,
            "valid_from": moment, "valid_to": None, "created_at": moment, "updated_at": moment,
            "closed_at": None}  # fmt: skip
    row |= overrides
    return row


def test_a_packed_row_unpacks_to_the_values_nulls_and_non_ascii_included() -> None:
    later = datetime(2031, 1, 1, tzinfo=UTC)
    rows = [
        _flat_row("c-1", campaign="été 🌞", content_body=None, journey_name="", valid_to=later),
        _flat_row("c-2", content_cta_url=None, status="closed", closed_at=later),
    ]
    table = packed_to_table(_packed(rows))
    assert table.schema.equals(JOURNEY_SCHEMA)
    assert table["campaign"].to_pylist() == ["été 🌞", "campaign-c-2"]
    assert table["journey_name"].to_pylist() == ["", "journey_name-c-2"]
    assert [c["body"] for c in table["content"].to_pylist()] == [None, "content_body-c-2"]
    assert [c["cta_url"] for c in table["content"].to_pylist()] == ["content_cta_url-c-1", None]
    assert table["valid_to"].to_pylist() == [later, None]
    assert table["closed_at"].to_pylist() == [None, later]
    assert table["priority"].to_pylist() == [-3, -3]
    assert table["valid_from"][0].as_py() == rows[0]["valid_from"]


def test_no_row_unpacks_to_an_empty_table() -> None:
    assert packed_to_table(None).num_rows == 0
    assert packed_to_table((0, None, *([None] * len(_TEXT_COLUMNS)))).num_rows == 0


def test_a_packed_row_that_does_not_match_its_count_is_an_internal_error() -> None:
    packed = list(_packed([_flat_row("c-1"), _flat_row("c-2")]))
    packed[0] = 3
    with pytest.raises(StoreInternalError):
        packed_to_table(packed)
