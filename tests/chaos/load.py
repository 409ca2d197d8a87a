"""An open-loop load of known customers against two gateways, with every answer checked.

Requests start on a fixed schedule (``rate`` per second) whatever the answers do, as real
traffic would; the number outstanding is bounded. Each request goes to the gateways in turn;
when a gateway refuses the connection or closes it without an answer (it is shutting down), the
request is sent to the other one, as a load balancer retries an idempotent GET. Every answer is
compared with the store's rows for that customer, read before the run.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

#: The gateways' deadline (their default) and how long past it the client still waits. A live
#: gateway answers every request by its deadline (504 at worst) once it has read it; the grace
#: is generous because on a shared 2-core machine a starved process can take seconds just to
#: read a request. An answer later than this counts as unanswered (a failure).
DEADLINE_S = 2.0
CLIENT_GRACE_S = 10.0
MAX_OUTSTANDING = 1_000
#: Load keeps flowing this long after the fault is over, and never longer than MAX_RUN_S.
TAIL_S = 3.0
MAX_RUN_S = 50.0
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "chaos"

#: Customer id -> the sorted (journey_id, priority) pairs of their open journeys (empty: 404).
Expected = Mapping[str, list[tuple[str, int]]]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one request."""

    sent_at: float  # seconds since the load started
    status: int | None  # None: no answer (client timeout)
    latency_s: float
    wrong: bool
    rerouted: bool


@dataclass
class LoadReport:
    """Every outcome of a run, and the figures docs/reliability.md quotes."""

    scenario: str
    rate: float
    outcomes: list[Outcome] = field(default_factory=list)
    skipped: int = 0  # not sent: MAX_OUTSTANDING reached (the client, not the stack, was full)

    @property
    def by_status(self) -> Counter[str]:
        return Counter("unanswered" if o.status is None else str(o.status) for o in self.outcomes)

    @property
    def wrong(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.wrong]

    @property
    def failed(self) -> list[Outcome]:
        """5xx or unanswered."""
        return [o for o in self.outcomes if o.status is None or o.status >= 500]

    def summary(self) -> dict[str, Any]:
        statuses = self.by_status
        latencies = sorted(o.latency_s for o in self.outcomes if o.status is not None)
        return {
            "scenario": self.scenario,
            "rate_per_s": self.rate,
            "sent": len(self.outcomes),
            "answered_2xx": sum(v for k, v in statuses.items() if k.startswith("2")),
            "answered_4xx": sum(v for k, v in statuses.items() if k.startswith("4")),
            "answered_5xx": sum(v for k, v in statuses.items() if k.startswith("5")),
            "unanswered": statuses.get("unanswered", 0),
            "wrong": len(self.wrong),
            "rerouted": sum(o.rerouted for o in self.outcomes),
            "failed_after_reroute": sum(o.rerouted for o in self.failed),
            "skipped": self.skipped,
            "by_status": dict(sorted(statuses.items())),
            "p50_ms": _ms(latencies, 0.50),
            "p99_ms": _ms(latencies, 0.99),
            "worst_ms": round(latencies[-1] * 1000, 1) if latencies else None,
            "failed_at_s": self.failure_timeline(),
        }

    def failure_timeline(self) -> dict[int, int]:
        """Failed requests per second of the run (by when they were sent): where the gap was."""
        return dict(sorted(Counter(int(o.sent_at) for o in self.failed).items()))

    def publish(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Print the summary line and write it to tests/artifacts/chaos/<scenario>.json."""
        summary = {**self.summary(), **(extra or {})}
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / f"{self.scenario}.json").write_text(json.dumps(summary, indent=2) + "\n")
        print(
            f"\nCHAOS {summary['scenario']:<28} sent {summary['sent']:>5}  "
            f"2xx {summary['answered_2xx']:>5}  4xx {summary['answered_4xx']:>4}  "
            f"5xx {summary['answered_5xx']:>4}  unanswered {summary['unanswered']:>4}  "
            f"wrong {summary['wrong']}  worst {summary['worst_ms']} ms  {summary['by_status']}"
        )
        return summary


def _ms(ordered: Sequence[float], q: float) -> float | None:
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)


def _is_wrong(response: httpx.Response, expected: list[tuple[str, int]]) -> bool:
    if response.status_code == 404:
        return bool(expected)
    if response.status_code != 200:
        return False  # an error is a failure, counted apart, not a wrong answer
    try:
        journeys = response.json()["journeys"]
        got = sorted((j["journey_id"], j["priority"]) for j in journeys)
    except (ValueError, KeyError, TypeError):
        return True
    return got != expected


class LoadClient:
    """Sends the load to ``gateway_urls`` and records an :class:`Outcome` per request."""

    def __init__(
        self, gateway_urls: Sequence[str], api_key: str, expected: Expected, rate: float = 100.0
    ) -> None:
        self._urls = list(gateway_urls)
        self._api_key = api_key
        self._expected = expected
        self._customers = sorted(expected)
        self._rate = rate
        self._fault_done_at: float | None = None

    async def run(
        self,
        scenario: str,
        seconds: float,
        fault: Callable[[], Awaitable[None]] | None = None,
        fault_at_s: float = 3.0,
        max_run_s: float = MAX_RUN_S,
    ) -> LoadReport:
        """Run the load for ``seconds`` and at least ``TAIL_S`` after ``fault`` (started
        ``fault_at_s`` into the run) has finished, at most ``max_run_s``.

        Returns after every request is answered or timed out and the fault has finished.
        """
        report = LoadReport(scenario, self._rate)
        limits = httpx.Limits(max_connections=MAX_OUTSTANDING, max_keepalive_connections=100)
        timeout = httpx.Timeout(DEADLINE_S + CLIENT_GRACE_S)
        async with httpx.AsyncClient(
            headers={"X-API-Key": self._api_key}, timeout=timeout, limits=limits
        ) as http:
            faulting = asyncio.create_task(self._fault_later(fault, fault_at_s))
            started = time.monotonic()
            tasks: set[asyncio.Task[None]] = set()
            customers = itertools.cycle(self._customers)
            gateways = itertools.cycle(range(len(self._urls)))
            for n in itertools.count():
                at = started + n / self._rate
                if self._finished(at - started, seconds, faulting, max_run_s):
                    break
                await asyncio.sleep(max(0.0, at - time.monotonic()))
                if len(tasks) >= MAX_OUTSTANDING:
                    report.skipped += 1
                    continue
                task = asyncio.create_task(
                    self._one(http, next(customers), next(gateways), started, report)
                )
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await asyncio.gather(*tasks)
            await faulting
        return report

    def _finished(
        self, elapsed: float, seconds: float, faulting: asyncio.Task[None], max_run_s: float
    ) -> bool:
        if elapsed >= max_run_s:
            return True
        if elapsed < seconds or not faulting.done():
            return False
        if self._fault_done_at is None:
            self._fault_done_at = elapsed
        return elapsed - self._fault_done_at >= TAIL_S

    @staticmethod
    async def _fault_later(fault: Callable[[], Awaitable[None]] | None, at_s: float) -> None:
        if fault is not None:
            await asyncio.sleep(at_s)
            await fault()

    async def _one(
        self,
        http: httpx.AsyncClient,
        customer: str,
        first: int,
        started: float,
        report: LoadReport,
    ) -> None:
        sent = time.monotonic()
        path = f"/v1/customers/{customer}/journeys"
        response: httpx.Response | None = None
        rerouted = False
        for attempt in range(len(self._urls)):
            url = self._urls[(first + attempt) % len(self._urls)]
            try:
                # httpx's timeout is per read: bound the whole exchange as a caller would.
                async with asyncio.timeout(DEADLINE_S + CLIENT_GRACE_S):
                    response = await http.get(url + path)
                break
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError):
                # Refused or closed before an answer: that gateway is going away, the GET was
                # not answered, and a load balancer retries it on the next backend.
                rerouted = True
            except (httpx.TimeoutException, TimeoutError):
                break
        latency = time.monotonic() - sent
        status = None if response is None else response.status_code
        wrong = response is not None and _is_wrong(response, list(self._expected[customer]))
        report.outcomes.append(Outcome(sent - started, status, latency, wrong, rerouted))
