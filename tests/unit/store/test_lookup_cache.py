"""LookupCache on its own: LRU bound, write invalidation, the generation rule, equal results."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pydantic import ValidationError

from journeys.schema import JOURNEY_SCHEMA, conform_to_journey_schema
from store.lookup_cache import LookupCache
from store.settings import StoreServerSettings
from tests.support.journey_rows import journey_row, journeys_table

ORDER = [("customer_id", "ascending"), ("priority", "ascending"), ("journey_id", "ascending")]


class FakeTable:
    """Rows per customer and the uncached lookup over them; records what was fetched."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self.fetched: list[list[str]] = []
        self.during_fetch: Callable[[], None] | None = None

    def put(self, customer: str, journeys: int, **overrides: Any) -> None:
        self.rows[customer] = [
            journey_row(customer, f"j-{k}", priority=(k * 7) % 5, **overrides)
            for k in range(journeys)
        ]

    def fetch(self, customer_ids: list[str], status: str) -> pa.Table:
        self.fetched.append(list(customer_ids))
        if self.during_fetch is not None:
            self.during_fetch()
        rows = [row for c in customer_ids for row in self.rows.get(c, [])]
        table = conform_to_journey_schema(journeys_table(rows)).sort_by(ORDER)
        if status != "all":
            table = table.filter(pc.equal(table.column("status"), status))
        return table


def _write(cache: LookupCache, table: FakeTable, customer: str, **overrides: Any) -> None:
    with cache.writing(pa.array([customer])):
        table.put(customer, 2, **overrides)


@pytest.fixture
def table() -> FakeTable:
    fake = FakeTable()
    for i in range(10):
        fake.put(f"c-{i}", 1 + i % 4, status="closed" if i % 3 == 0 else "open")
    return fake


def test_a_second_lookup_is_served_from_the_cache_with_the_same_rows(table: FakeTable) -> None:
    cache = LookupCache(100)
    first = cache.lookup(["c-1", "c-2"], "all", table.fetch)
    second = cache.lookup(["c-2", "c-1"], "all", table.fetch)
    assert table.fetched == [["c-1", "c-2"]]
    assert second.equals(first)
    assert second.schema.equals(JOURNEY_SCHEMA, check_metadata=True)
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.customers) == (2, 2, 2)


def test_hits_and_misses_together_equal_the_uncached_lookup(table: FakeTable) -> None:
    cache = LookupCache(100)
    rng = random.Random(3)
    customers = [f"c-{i}" for i in range(12)]  # c-10, c-11 have no rows
    for _ in range(40):
        ids = rng.sample(customers, rng.randint(1, 8))
        status = rng.choice(["all", "open", "closed"])
        expected = table.fetch(ids, status)
        assert cache.lookup(ids, status, table.fetch).equals(expected)
    assert cache.stats().hits > 0


def test_the_least_recently_used_customer_is_evicted_at_the_bound(table: FakeTable) -> None:
    cache = LookupCache(3)
    cache.lookup(["c-1", "c-2", "c-3"], "all", table.fetch)
    cache.lookup(["c-1"], "all", table.fetch)  # c-2 is now the least recently used
    cache.lookup(["c-4"], "all", table.fetch)
    assert cache.stats().customers == 3
    table.fetched.clear()
    cache.lookup(["c-1", "c-3", "c-4"], "all", table.fetch)
    assert table.fetched == []
    cache.lookup(["c-2"], "all", table.fetch)
    assert table.fetched == [["c-2"]]


def test_the_cache_is_bounded_by_bytes_and_never_holds_a_huge_customer(table: FakeTable) -> None:
    table.put("huge", 200, attributes='{"blob": "' + "x" * 1_000 + '"}')
    one = table.fetch(["c-1"], "all").nbytes
    cache = LookupCache(100, max_bytes=one * 40)
    assert cache.lookup(["huge"], "all", table.fetch).num_rows == 200
    assert cache.stats().customers == 0  # larger than an eighth of the bound: not stored
    for i in range(10):
        cache.lookup([f"c-{i}"], "all", table.fetch)
    stats = cache.stats()
    assert 0 < stats.bytes <= one * 40
    with cache.writing(None):
        pass
    assert cache.stats().bytes == 0


def test_a_customer_without_rows_is_cached_as_empty(table: FakeTable) -> None:
    cache = LookupCache(10)
    assert cache.lookup(["nobody"], "all", table.fetch).num_rows == 0
    again = cache.lookup(["nobody"], "open", table.fetch)
    assert again.num_rows == 0
    assert again.schema.equals(JOURNEY_SCHEMA, check_metadata=True)
    assert table.fetched == [["nobody"]]


def test_a_write_invalidates_its_customers_only(table: FakeTable) -> None:
    cache = LookupCache(10)
    cache.lookup(["c-1", "c-2"], "all", table.fetch)
    _write(cache, table, "c-1", step=9)
    table.fetched.clear()
    found = cache.lookup(["c-1", "c-2"], "all", table.fetch)
    assert table.fetched == [["c-1"]]
    assert pc.filter(found["step"], pc.equal(found["customer_id"], "c-1")).to_pylist() == [9, 9]
    assert cache.stats().invalidations == 1


def test_a_write_of_any_customer_clears_everything(table: FakeTable) -> None:
    cache = LookupCache(10)
    cache.lookup(["c-1", "c-2"], "all", table.fetch)
    with cache.writing(None):
        pass
    assert cache.stats().customers == 0
    assert cache.stats().invalidations == 2


def test_a_fill_after_a_write_started_and_ended_meanwhile_is_refused(table: FakeTable) -> None:
    cache = LookupCache(10)
    # The fetch read the old rows; the write commits and ends before the fill.
    table.during_fetch = lambda: _write(cache, table, "c-5", step=7)
    stale = cache.lookup(["c-1"], "all", table.fetch)
    table.during_fetch = None
    assert stale.num_rows == 2  # c-1 itself was read fine
    assert cache.stats().customers == 0
    assert cache.stats().fills_refused == 1


def test_a_customer_being_written_is_not_cached_but_others_are(table: FakeTable) -> None:
    cache = LookupCache(10)
    with cache.writing(pa.array(["c-1"])):
        cache.lookup(["c-1", "c-2"], "all", table.fetch)
        table.put("c-1", 3, step=4)  # commits while the write is in flight
        assert cache.stats().customers == 1
        table.fetched.clear()
        cache.lookup(["c-1", "c-2"], "all", table.fetch)
        assert table.fetched == [["c-1"]]
    found = cache.lookup(["c-1"], "all", table.fetch)
    assert found["step"].to_pylist() == [4, 4, 4]


def test_a_failed_write_still_invalidates(table: FakeTable) -> None:
    cache = LookupCache(10)
    cache.lookup(["c-1"], "all", table.fetch)
    with pytest.raises(RuntimeError), cache.writing(pa.array(["c-1"])):
        raise RuntimeError("commit failed")
    assert cache.stats().customers == 0


def test_entries_of_a_mostly_evicted_fill_are_copied_out_on_a_hit(table: FakeTable) -> None:
    cache = LookupCache(10)
    ids = [f"c-{i}" for i in range(1, 9)]
    expected = table.fetch(["c-1"], "all")
    cache.lookup(ids, "all", table.fetch)  # one fill: 8 slices of one result
    shared = cache._entries["c-1"].rows.column(1).buffers()[2]
    for customer in ids[1:6]:
        with cache.writing(pa.array([customer])):
            pass
    assert cache.lookup(["c-1"], "all", table.fetch).equals(expected)
    copied = cache._entries["c-1"]
    assert copied.segment is None
    assert copied.rows.column(1).buffers()[2].address != shared.address
    assert cache.lookup(["c-1"], "all", table.fetch).equals(expected)


def test_size_zero_turns_the_cache_off(table: FakeTable) -> None:
    cache = LookupCache(0)
    cache.lookup(["c-1"], "open", table.fetch)
    cache.lookup(["c-1"], "open", table.fetch)
    assert table.fetched == [["c-1"], ["c-1"]]
    assert cache.stats().customers == 0


def test_a_negative_size_is_refused() -> None:
    with pytest.raises(ValueError, match="max_customers"):
        LookupCache(-1)


def test_the_cache_size_is_a_setting_that_cannot_be_negative(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOURNEYS_STORE_ADMIN_TOKENS", "admin-token-1234567890")
    assert StoreServerSettings().lookup_cache_customers == 200_000
    monkeypatch.setenv("JOURNEYS_STORE_LOOKUP_CACHE_CUSTOMERS", "0")
    assert StoreServerSettings().lookup_cache_customers == 0
    monkeypatch.setenv("JOURNEYS_STORE_LOOKUP_CACHE_CUSTOMERS", "-1")
    with pytest.raises(ValidationError, match="lookup_cache_customers"):
        StoreServerSettings()
