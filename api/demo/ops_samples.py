"""Prometheus samples as plain numbers, and the arithmetic the ops page needs on them.

A :data:`Samples` maps a sample name (``journeys_gateway_requests_total``) to its label sets and
values. It is read either from a registry in this process or from the text exposition of a peer
(the responder's or the store's ``/metrics``). The functions here are pure so that the window
arithmetic (counter increases across resets, histogram quantiles) is tested on its own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

#: A label set, sorted by label name so equal sets compare equal.
Labels = tuple[tuple[str, str], ...]
#: sample name -> label set -> value.
Samples = dict[str, dict[Labels, float]]
#: One series: its label set and value.
Series = tuple[Labels, float]
#: (upper bound ``le``, cumulative count) of one histogram bucket; the last bound is +Inf.
Bucket = tuple[float, float]


def _collect(samples: Iterable[Sample]) -> Samples:
    result: Samples = {}
    for sample in samples:
        # *_created are timestamps, not counts: they would only confuse sums.
        if sample.name.endswith("_created"):
            continue
        labels = tuple(sorted(sample.labels.items()))
        result.setdefault(sample.name, {})[labels] = float(sample.value)
    return result


def parse_exposition(text: str) -> Samples:
    """The samples of a Prometheus text exposition; raises ``ValueError`` on malformed text."""
    return _collect(s for family in text_string_to_metric_families(text) for s in family.samples)


def registry_samples(registry: CollectorRegistry) -> Samples:
    """The samples of a registry in this process (no text round trip)."""
    return _collect(s for family in registry.collect() for s in family.samples)


def _matching(samples: Samples, name: str, wanted: Mapping[str, str]) -> Iterator[Series]:
    """The ``name`` series whose labels include ``wanted``."""
    for labels, value in samples.get(name, {}).items():
        present = dict(labels)
        if all(present.get(key) == want for key, want in wanted.items()):
            yield labels, value


def _sum_by(series: Iterable[Series], label: str) -> dict[str, float]:
    """``series`` summed per value of ``label`` (series without it are left out)."""
    result: dict[str, float] = {}
    for labels, value in series:
        key = dict(labels).get(label)
        if key is not None:
            result[key] = result.get(key, 0.0) + value
    return result


def _grown(new: Samples, old: Samples, name: str, wanted: Mapping[str, str]) -> Iterator[Series]:
    """Each matching series of ``new`` with its increase since ``old``.

    A series absent from ``old`` was created in between (counters start at zero), so all of its
    value is new.
    """
    before = old.get(name, {})
    for labels, value in _matching(new, name, wanted):
        yield labels, increase(value, before.get(labels, 0.0))


def total(samples: Samples, name: str, **wanted: str) -> float | None:
    """Sum of the ``name`` samples whose labels include ``wanted``; None when there are none."""
    values = [value for _labels, value in _matching(samples, name, wanted)]
    return sum(values) if values else None


def by_label(samples: Samples, name: str, label: str, **wanted: str) -> dict[str, float]:
    """The ``name`` samples summed per value of ``label`` (other labels summed away)."""
    return _sum_by(_matching(samples, name, wanted), label)


def increase(new: float, old: float) -> float:
    """How much a counter grew from ``old`` to ``new``; a drop means it restarted from zero."""
    return new - old if new >= old else new


def window_increase(new: Samples, old: Samples, name: str, **wanted: str) -> float:
    """Increase of the ``name`` counters between two snapshots, per series, reset-aware."""
    return sum((grown for _labels, grown in _grown(new, old, name, wanted)), 0.0)


def window_increase_by_label(
    new: Samples, old: Samples, name: str, label: str, **wanted: str
) -> dict[str, float]:
    """:func:`window_increase` per value of ``label``."""
    return _sum_by(_grown(new, old, name, wanted), label)


def window_buckets(new: Samples, old: Samples, histogram: str, **wanted: str) -> list[Bucket]:
    """The cumulative buckets of ``histogram`` filled between two snapshots, sorted by bound."""
    grown = window_increase_by_label(new, old, f"{histogram}_bucket", "le", **wanted)
    return sorted(((float(le), count) for le, count in grown.items()), key=lambda b: b[0])


def histogram_quantile(q: float, buckets: list[Bucket]) -> float | None:
    """The ``q`` quantile of cumulative ``buckets``, as Prometheus' ``histogram_quantile``.

    Linear interpolation inside the bucket where the rank falls (the first bucket starts at 0).
    A rank in the +Inf bucket answers the highest finite bound. None without observations.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be within [0, 1], not {q}")
    if not buckets or not math.isinf(buckets[-1][0]) or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for upper_bound, count in buckets:
        if count >= rank and count > lower_count:
            if math.isinf(upper_bound):
                return lower_bound
            share = (rank - lower_count) / (count - lower_count)
            return lower_bound + (upper_bound - lower_bound) * share
        lower_bound, lower_count = upper_bound, count
    return lower_bound
