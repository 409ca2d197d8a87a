"""The one Prometheus text parser of the tests: a scrape as samples tests can compare."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


@dataclass(frozen=True)
class Scrape:
    """The samples of one Prometheus text exposition."""

    samples: tuple[Sample, ...]

    def value(self, name: str, **labels: str) -> float:
        """The sample called ``name`` with exactly ``labels``; KeyError when it is not exported."""
        for sample in self.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
        raise KeyError(f"{name}{labels} is not in the scrape")

    def total(self, name: str, **labels: str) -> float:
        """Sum of the samples called ``name`` whose labels include ``labels`` (0 when none)."""
        return sum(
            float(sample.value)
            for sample in self.samples
            if sample.name == name and labels.items() <= sample.labels.items()
        )

    def labels(self, name: str) -> list[dict[str, str]]:
        """The label sets of every sample called ``name``."""
        return [sample.labels for sample in self.samples if sample.name == name]


def parse(text: str) -> Scrape:
    """``text`` (Prometheus text format) as a :class:`Scrape`."""
    families = text_string_to_metric_families(text)
    return Scrape(tuple(sample for family in families for sample in family.samples))


def scrape(url: str, headers: dict[str, str] | None = None) -> Scrape:
    """GET ``url`` (a /metrics endpoint) and parse it."""
    response = httpx.get(url, headers=headers, timeout=10.0)
    response.raise_for_status()
    return parse(response.text)
