"""The reply's Journey model and the Arrow schema describe the same columns."""

from __future__ import annotations

from journeys.contract import Content, Journey
from journeys.schema import COLUMN_NAMES, CONTENT_TYPE


def test_journey_fields_are_the_schema_columns_in_order() -> None:
    assert tuple(Journey.model_fields) == COLUMN_NAMES


def test_content_fields_are_the_schema_content_struct() -> None:
    assert tuple(Content.model_fields) == tuple(field.name for field in CONTENT_TYPE)
