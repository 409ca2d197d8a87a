"""What a cluster scenario records beside the load's outcomes: the stack's counters, per second.

:class:`CounterSampler` scrapes every gateway's and responder's ``/metrics`` once a second while
the load runs (and asks each gateway's ``/readyz``), so a scenario's report has, next to the
answers by status (tests/chaos/load.py), how many hedges, reroutes, resends, lost reply-log reads
and ``expired`` replies the fault cost, and how often a gateway said it was not ready, in total
and second by second (seconds since the load started, as the failure timeline).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import httpx

from tests.chaos.load import LoadReport
from tests.support.metrics_scrape import Scrape, scrape

#: Report name -> (metric, labels) summed over the gateways.
GATEWAY_COUNTERS: Final[Mapping[str, tuple[str, dict[str, str]]]] = {
    "hedges": ("journeys_gateway_hedges_sent_total", {}),
    "hedges_won": ("journeys_gateway_hedges_won_total", {}),
    "hedges_skipped": ("journeys_gateway_hedges_skipped_total", {}),
    "rerouted": ("journeys_gateway_rerouted_requests_total", {}),
    "resent": ("journeys_gateway_resent_requests_total", {}),
    "reply_log_lost": ("journeys_gateway_reply_log_lost_total", {}),
    "shed_503": ("journeys_gateway_shed_requests_total", {"reason": "unavailable"}),
    "shed_504": ("journeys_gateway_shed_requests_total", {"reason": "deadline"}),
}
#: Report name -> (metric, labels) summed over the responders.
RESPONDER_COUNTERS: Final[Mapping[str, tuple[str, dict[str, str]]]] = {
    "expired_replies": ("journeys_responder_replies_total", {"status": "expired"}),
    "unavailable_replies": ("journeys_responder_replies_total", {"status": "unavailable"}),
    "produce_failures": ("journeys_responder_produce_failures_total", {}),
    "commit_failures": ("journeys_responder_commit_failures_total", {}),
    "producer_replacements": ("journeys_responder_producer_replacements_total", {}),
}


def _read(
    urls: Sequence[str], counters: Mapping[str, tuple[str, dict[str, str]]]
) -> dict[str, float]:
    scrapes: list[Scrape] = []
    for url in urls:
        try:
            scrapes.append(scrape(url))
        except httpx.HTTPError:
            continue  # a process being restarted: its counters are read at the next sample
    return {
        name: sum(s.total(metric, **labels) for s in scrapes)
        for name, (metric, labels) in counters.items()
    }


def _not_ready(gateway_urls: Sequence[str]) -> list[str]:
    """The gateways whose /readyz answers anything but 200 right now, with what it said."""
    not_ready = []
    for url in gateway_urls:
        try:
            response = httpx.get(f"{url}/readyz", timeout=5.0)
        except httpx.HTTPError as exc:
            not_ready.append(f"{url}: {exc!r}")
            continue
        if response.status_code != 200:
            not_ready.append(f"{url}: {response.status_code} {response.text[:300]}")
    return not_ready


@dataclass
class CounterSampler:
    """Samples the counters of the gateways (base URLs) and responders (/metrics URLs).

    ``gateway_not_ready`` counts, over the samples, the gateways whose /readyz was not 200;
    :attr:`not_ready` keeps what they said.
    """

    gateway_urls: Sequence[str]
    responder_urls: Sequence[str]
    interval_s: float = 1.0
    samples: list[tuple[float, dict[str, float]]] = field(default_factory=list)
    _started: float = field(default_factory=time.monotonic)

    not_ready: list[str] = field(default_factory=list)

    def read(self) -> dict[str, float]:
        at = round(time.monotonic() - self._started, 1)
        self.not_ready.extend(f"{at}s {said}" for said in _not_ready(self.gateway_urls))
        return {
            **_read([f"{url}/metrics" for url in self.gateway_urls], GATEWAY_COUNTERS),
            **_read(self.responder_urls, RESPONDER_COUNTERS),
            "gateway_not_ready": float(len(self.not_ready)),
        }

    async def sample(self) -> None:
        self.samples.append((time.monotonic() - self._started, await asyncio.to_thread(self.read)))

    async def run(self, stop: asyncio.Event) -> None:
        """Sample now, then every ``interval_s`` until ``stop`` is set, then once more."""
        self._started = time.monotonic()
        while True:
            await self.sample()
            try:
                await asyncio.wait_for(stop.wait(), self.interval_s)
            except TimeoutError:
                continue
            await self.sample()
            return

    def totals(self) -> dict[str, float]:
        """Each counter's increase over the run."""
        if len(self.samples) < 2:
            return {}
        first, last = self.samples[0][1], self.samples[-1][1]
        return {name: last[name] - first[name] for name in last}

    def per_second(self) -> dict[str, dict[int, float]]:
        """Each counter's increases by the second they were seen in (only seconds with any)."""
        timeline: dict[str, dict[int, float]] = {}
        for (_, before), (at, after) in zip(self.samples, self.samples[1:], strict=False):
            for name, value in after.items():
                if delta := value - before[name]:
                    second = int(at)
                    timeline.setdefault(name, {})[second] = (
                        timeline.get(name, {}).get(second, 0.0) + delta
                    )
        return timeline


def publish(
    report: LoadReport, sampler: CounterSampler, marks: Mapping[str, Any]
) -> dict[str, Any]:
    """Print the scenario's CHAOS line and its counters; write both as JSON (LoadReport's file)."""
    totals = sampler.totals()
    sent_per_s: dict[int, int] = {}
    status_per_s: dict[int, Counter[str]] = {}
    wrong_per_s: Counter[int] = Counter()
    for outcome in report.outcomes:
        second = int(outcome.sent_at)
        sent_per_s[second] = sent_per_s.get(second, 0) + 1
        status = "unanswered" if outcome.status is None else str(outcome.status)
        status_per_s.setdefault(second, Counter())[status] += 1
        wrong_per_s[second] += outcome.wrong
    summary = report.publish(
        {
            "marks": dict(marks),
            "counters": totals,
            "counters_per_s": sampler.per_second(),
            "sent_per_s": dict(sorted(sent_per_s.items())),
            "status_per_s": {second: dict(status_per_s[second]) for second in sorted(status_per_s)},
            "wrong_per_s": {second: n for second, n in sorted(wrong_per_s.items()) if n},
            "gateway_not_ready_said": sampler.not_ready,
        }
    )
    shown = " ".join(f"{name} {value:g}" for name, value in totals.items())
    print(f"CLUSTER {report.scenario:<28} {shown}\n        marks {dict(marks)}")
    if summary["failed_at_s"]:
        print(f"        failed per second {summary['failed_at_s']}")
    for said in sampler.not_ready:
        print(f"        not ready: {said}")
    return summary
