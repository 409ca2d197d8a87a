"""Realistic, deterministic demo journeys, generated vectorised (numpy + pyarrow compute).

Each customer gets 1-9 journeys (about 5 on average) across several campaigns, channels and
steps; about 70 % are open and the rest closed within the last two weeks. Each campaign has its
own ``attributes`` fields. ``cust-0000001`` always has at least one open journey (the README's
example uses it). The same ``(customers, seed, start, anchor)`` always gives the same rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from journeys.schema import CHANNELS, CONTENT_TYPE, JOURNEY_SCHEMA

_US_PER_HOUR = 3_600_000_000
_US_PER_DAY = 24 * _US_PER_HOUR


@dataclass(frozen=True)
class _Campaign:
    code: str
    name: str
    steps: int
    title: str
    body: str
    #: attributes = prefix + <integer> + middle + <choice> + '"}'
    number_field: str
    number_range: tuple[int, int]
    choice_field: str
    choices: tuple[str, ...]


_CAMPAIGNS: tuple[_Campaign, ...] = (
    _Campaign("spring-sale", "Spring Sale", 4, "Spring sale: up to 40% off",
              "Fresh picks for the new season.", "discount_pct", (5, 40), "category",
              ("shoes", "outdoor", "garden", "kids")),
    _Campaign("loyalty-gold", "Loyalty Gold", 3, "You are close to Gold status",
              "Collect a few more points to unlock Gold.", "points", (100, 5000), "tier",
              ("silver", "gold", "platinum")),
    _Campaign("cart-recovery", "Cart Recovery", 3, "You left something in your cart",
              "Your items are still waiting for you.", "cart_value_eur", (10, 900), "reminder",
              ("first", "second", "last")),
    _Campaign("onboarding", "Welcome Onboarding", 5, "Welcome! Let's get you started",
              "Three quick steps to set up your account.", "days_since_signup", (0, 30), "plan",
              ("free", "plus", "family")),
    _Campaign("winback", "Win-back", 3, "We miss you",
              "Here is a little something to come back.", "days_inactive", (30, 365), "offer",
              ("voucher", "free-shipping", "bonus-points")),
    _Campaign("birthday", "Birthday Treat", 2, "Happy birthday!",
              "A birthday gift is waiting in your account.", "age", (18, 90), "gift",
              ("voucher", "dessert", "double-points")),
    _Campaign("travel-insurance", "Travel Insurance", 4, "Travelling soon?",
              "Cover your next trip in two minutes.", "trip_days", (2, 30), "region",
              ("europe", "worldwide", "domestic")),
    _Campaign("card-upgrade", "Card Upgrade", 3, "Upgrade to the Premium card",
              "More cashback, no foreign fees.", "credit_limit_eur", (1000, 20000), "card",
              ("classic", "premium", "metal")),
)  # fmt: skip


def _strings(values: list[str]) -> pa.Array:
    return pa.array(values, pa.string())


def _join(*parts: Any) -> pa.Array:
    joined: pa.Array = pc.binary_join_element_wise(*parts, "")
    return joined


def _padded(values: np.ndarray[Any, Any], width: int) -> pa.Array:
    text = pc.cast(pa.array(values, pa.int64()), pa.string())
    padded: pa.Array = pc.utf8_lpad(text, width=width, padding="0")
    return padded


def _timestamps(micros: np.ndarray[Any, Any], mask: np.ndarray[Any, Any] | None = None) -> pa.Array:
    return pa.array(micros, pa.timestamp("us", tz="UTC"), mask=mask)


def _batch(first: int, count: int, rng: np.random.Generator, anchor_us: int) -> pa.Table:
    per_customer = rng.integers(1, 10, size=count)  # 1..9, mean 5
    n = int(per_customer.sum())
    customer_numbers = np.repeat(np.arange(first, first + count), per_customer)
    # Position of each journey within its customer: 0, 1, ... per customer.
    starts = np.repeat(np.cumsum(per_customer) - per_customer, per_customer)
    ordinal = np.arange(n) - starts

    campaign_idx = rng.integers(0, len(_CAMPAIGNS), size=n)
    steps = np.array([c.steps for c in _CAMPAIGNS])[campaign_idx]
    step = (rng.random(n) * steps).astype(np.int32)
    is_open = rng.random(n) < 0.7
    if first == 1:
        is_open[0] = True  # the README's example customer always has an open journey

    created = anchor_us - rng.integers(1 * _US_PER_DAY, 90 * _US_PER_DAY, size=n)
    valid_from = created + rng.integers(0, 2 * _US_PER_DAY, size=n)
    valid_to = valid_from + rng.integers(7 * _US_PER_DAY, 120 * _US_PER_DAY, size=n)
    open_ended = rng.random(n) < 0.2
    closed = np.maximum(created + _US_PER_HOUR, anchor_us - rng.integers(0, 14 * _US_PER_DAY, n))
    updated = np.where(is_open, created + rng.integers(0, _US_PER_DAY, size=n), closed)

    take = pa.array(campaign_idx, pa.int64())
    codes = _strings([c.code for c in _CAMPAIGNS]).take(take)
    customer_ids = _join("cust-", _padded(customer_numbers, 7))
    numbers = np.empty(n, dtype=np.int64)
    for i, campaign in enumerate(_CAMPAIGNS):
        rows = campaign_idx == i
        low, high = campaign.number_range
        numbers[rows] = rng.integers(low, high + 1, size=int(rows.sum()))
    choice_pick = rng.integers(0, 1 << 30, size=n)
    # Every campaign's choices in one array; a row picks within its campaign's run of it.
    counts = np.array([len(c.choices) for c in _CAMPAIGNS])
    offsets = np.cumsum(counts) - counts
    choice_index = offsets[campaign_idx] + choice_pick % counts[campaign_idx]
    choice = _strings([option for c in _CAMPAIGNS for option in c.choices]).take(
        pa.array(choice_index, pa.int64())
    )
    prefixes = [f'{{"campaign":"{c.code}","{c.number_field}":' for c in _CAMPAIGNS]
    middles = [f',"{c.choice_field}":"' for c in _CAMPAIGNS]
    attributes = _join(
        _strings(prefixes).take(take),
        pc.cast(pa.array(numbers), pa.string()),
        _strings(middles).take(take),
        choice,
        '"}',
    )
    content = pa.StructArray.from_arrays(
        [
            _strings([c.title for c in _CAMPAIGNS]).take(take),
            _strings([c.body for c in _CAMPAIGNS]).take(take),
            _join("https://shop.example.com/", codes, "?c=", customer_ids),
            pa.array(
                np.full(n, "https://cdn.example.com/img/hero.png"),
                pa.string(),
                mask=rng.random(n) < 0.5,
            ),
        ],
        fields=list(CONTENT_TYPE),
    )
    columns = {
        "customer_id": customer_ids,
        "journey_id": _join(codes, "-", _padded(ordinal + 1, 3)),
        "campaign": codes,
        "journey_name": _join(_strings([c.name for c in _CAMPAIGNS]).take(take), " · step ",
                              pc.cast(pa.array(step + 1), pa.string())),
        "step": pa.array(step, pa.int32()),
        "channel": _strings(list(CHANNELS)).take(
            pa.array(rng.integers(0, len(CHANNELS), size=n), pa.int64())
        ),
        "content": content,
        "status": pa.array(np.where(is_open, "open", "closed"), pa.string()),
        "priority": pa.array(rng.integers(1, 100, size=n), pa.int32()),
        "valid_from": _timestamps(valid_from),
        "valid_to": _timestamps(valid_to, mask=open_ended),
        "created_at": _timestamps(created),
        "updated_at": _timestamps(updated),
        "closed_at": _timestamps(closed, mask=is_open),
        "attributes": attributes,
    }  # fmt: skip
    return pa.Table.from_pydict(columns, schema=JOURNEY_SCHEMA)


def default_anchor() -> datetime:
    """Midnight UTC today: "now" for demo data, stable for a whole day."""
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def generate_journeys(
    customers: int,
    seed: int = 42,
    start: int = 1,
    batch_customers: int = 50_000,
    *,
    anchor: datetime | None = None,
) -> Iterator[pa.Table]:
    """Yield demo journeys for customers ``cust-{start}`` … as tables of JOURNEY_SCHEMA.

    Each yielded table covers up to ``batch_customers`` customers (≈5 journeys each). Times are
    relative to ``anchor`` (default: :func:`default_anchor`); pass it to get identical rows
    across days.
    """
    if customers < 0 or start < 1 or batch_customers < 1:
        raise ValueError("customers must be >= 0, start >= 1 and batch_customers >= 1")
    anchor_us = int((anchor or default_anchor()).timestamp() * 1_000_000)
    rng = np.random.default_rng(seed)
    first = start
    end = start + customers
    while first < end:
        count = min(batch_customers, end - first)
        yield _batch(first, count, rng, anchor_us)
        first += count
