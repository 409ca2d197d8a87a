"""Demo data: deterministic, valid, realistic mix."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from journeys.schema import JOURNEY_SCHEMA
from store.demo_data import generate_journeys
from store.validation import validate_batch

ANCHOR = datetime(2025, 6, 1, tzinfo=UTC)


def _all(customers: int, **kwargs: int) -> pa.Table:
    return pa.concat_tables(generate_journeys(customers, anchor=ANCHOR, **kwargs))


def test_same_seed_gives_the_same_rows_and_another_seed_does_not() -> None:
    assert _all(300, seed=7).equals(_all(300, seed=7))
    assert not _all(300, seed=7).equals(_all(300, seed=8))


def test_demo_rows_are_valid_and_match_the_schema() -> None:
    table = _all(2_000, batch_customers=700)
    assert table.schema.equals(JOURNEY_SCHEMA, check_metadata=True)
    validate_batch(table)


def test_customers_have_about_five_journeys_with_a_mix_of_statuses_and_campaigns() -> None:
    table = _all(2_000)
    customers = pc.count_distinct(table["customer_id"]).as_py()
    assert customers == 2_000
    assert 4.0 < table.num_rows / customers < 6.0
    open_share = pc.mean(pc.equal(table["status"], "open")).as_py()
    assert 0.6 < open_share < 0.8
    assert pc.count_distinct(table["campaign"]).as_py() >= 6
    assert pc.count_distinct(table["channel"]).as_py() == 5


def test_customer_one_always_has_an_open_journey_and_ids_follow_start() -> None:
    for seed in range(5):
        first = next(generate_journeys(1, seed=seed, anchor=ANCHOR))
        assert "open" in first["status"].to_pylist()
    ids = _all(3, start=41)["customer_id"].unique().to_pylist()
    assert ids == ["cust-0000041", "cust-0000042", "cust-0000043"]
