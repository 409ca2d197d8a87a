"""The load generator: one process, pinned to one CPU, driving HTTP GETs at the gateway.

    python bench/loadgen.py '<plan as JSON>'      (the plan is :class:`Plan`; see e2e_bench.py)

Open loop (``mode="open"``): request ``i`` is due at ``start + i / rate`` whatever happened to
the requests before it, and its latency is measured from that due time, so a stalled server
shows up as latency instead of as fewer requests (no coordinated omission). How late each
request was actually sent is reported too: if the generator itself fell behind, that shows.
Closed loop (``mode="closed"``): ``concurrency`` workers each send their next request as soon
as the previous one is answered; it measures the most the system can serve.

The client is a minimal HTTP/1.1 keep-alive pool on asyncio streams (bench/http_pool.py).

With ``bucket_s`` (open loop only) the result also has ``buckets``: the measured window cut
into intervals of that many seconds of due time, each with its requests, answers, statuses and
p50/p99/max latency, and ``unanswered_per_second`` (bench/soak.py reports them per minute).

Output on stdout: ``MEASURE-START`` when the measured window begins, ``MEASURE-END`` when it
has been drained, then one JSON line with the result. The orchestrator samples the other
processes' CPU between the two markers.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.http_pool import Pool
from bench.load_math import (
    Lateness,
    arrival_offsets,
    bucket_summaries,
    count_statuses,
    cpu_percent,
    customer_sequence,
    percentiles_ms,
    unanswered_per_second,
)

#: uvloop's loop.time() has millisecond resolution: too coarse for latencies of a few ms.
clock = time.perf_counter

#: HTTP statuses that are answers (the customer's journeys, or "has none").
ANSWERED = frozenset({200, 404})


@dataclass(frozen=True)
class Plan:
    """One load phase."""

    targets: list[str]  # "host:port" of each gateway (requests are spread round-robin)
    api_key: str
    mode: str = "open"  # "open" or "closed"
    rate: float = 100.0  # open loop: requests per second
    concurrency: int = 64  # closed loop: workers
    warmup_s: float = 1.0
    duration_s: float = 5.0
    connections: int = 128  # per target
    timeout_s: float = 5.0
    drain_s: float = 5.0
    customers: int = 50_000
    zipf_exponent: float = 1.0
    seed: int = 1
    cpu: int | None = None  # pin to this CPU
    bucket_s: float | None = None  # open loop: also summarise every interval of this many s


@dataclass
class Result:
    """What one phase measured (latencies in ms)."""

    mode: str
    offered_rps: float | None
    achieved_rps: float
    window_s: float
    requests: int
    answered: int
    statuses: dict[str, int]
    latency_ms: dict[str, float | None]
    service_ms: dict[str, float | None]
    lateness_ms: dict[str, float]
    loadgen_cpu_pct: float
    extra: dict[str, Any] = field(default_factory=dict)
    #: Open loop with ``Plan.bucket_s``: see :func:`bench.load_math.bucket_summaries`.
    buckets: list[dict[str, Any]] = field(default_factory=list)
    unanswered_per_second: dict[str, int] = field(default_factory=dict)


class LoadGenerator:
    """Runs one :class:`Plan` and summarises it as a :class:`Result`."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.pools = [Pool(target, plan.connections) for target in plan.targets]
        self.requests = [self._request_bytes(target, plan.api_key) for target in plan.targets]

    @staticmethod
    def _request_bytes(target: str, api_key: str) -> tuple[bytes, bytes]:
        prefix = b"GET /v1/customers/"
        suffix = f"/journeys HTTP/1.1\r\nHost: {target}\r\nX-API-Key: {api_key}\r\n\r\n"
        return prefix, suffix.encode()

    async def _call(self, index: int, customer: bytes) -> int | str:
        slot = index % len(self.pools)
        prefix, suffix = self.requests[slot]
        try:
            async with asyncio.timeout(self.plan.timeout_s):
                return await self.pools[slot].get(prefix + customer + suffix)
        except TimeoutError:
            return "timeout"
        except (OSError, asyncio.IncompleteReadError, ValueError):
            return "connection_error"

    async def run(self) -> Result:
        for pool in self.pools:
            await pool.warm(min(self.plan.connections, 32))
        if self.plan.mode == "open":
            return await self._open_loop()
        return await self._closed_loop()

    async def _open_loop(self) -> Result:
        plan = self.plan
        offsets = arrival_offsets(plan.rate, plan.warmup_s + plan.duration_s)
        count = len(offsets)
        ids = customer_sequence(count, plan.customers, plan.zipf_exponent, plan.seed)
        customers = [c.encode() for c in ids]
        sent = np.full(count, np.nan)
        done = np.full(count, np.nan)
        status: list[int | str] = ["not_sent"] * count
        first_measured = int(np.searchsorted(offsets, plan.warmup_s))
        tasks: set[asyncio.Task[None]] = set()

        async def fire(i: int) -> None:
            sent[i] = clock()
            outcome = await self._call(i, customers[i])
            done[i] = clock()
            status[i] = outcome

        start = clock() + 0.05
        due = start + offsets
        marked = False
        cpu_start = time.process_time()
        i = 0
        while i < count:
            now = clock()
            while i < count and due[i] <= now:
                if i == first_measured and not marked:
                    marked = _mark("MEASURE-START")
                    cpu_start = time.process_time()
                task = asyncio.create_task(fire(i))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                i += 1
            if i < count:
                await asyncio.sleep(max(0.0, due[i] - clock()))
        if tasks:
            await asyncio.wait(set(tasks), timeout=plan.timeout_s + plan.drain_s)
        for task in list(tasks):
            task.cancel()
        cpu_used = time.process_time() - cpu_start
        window_end = clock()
        _mark("MEASURE-END")
        measured = slice(first_measured, count)
        m_status = status[measured]
        m_due, m_sent, m_done = due[measured], sent[measured], done[measured]
        answered = np.array([isinstance(s, int) and s in ANSWERED for s in m_status])
        finished = ~np.isnan(m_done)
        last_done = float(np.nanmax(m_done)) if finished.any() else window_end
        window = max(last_done, float(m_due[-1])) - float(m_due[0])
        latency_s = _unanswered_as_inf(m_done - m_due, answered)
        buckets: list[dict[str, Any]] = []
        unanswered: dict[str, int] = {}
        if plan.bucket_s is not None:
            due_s = offsets[measured] - offsets[first_measured]
            buckets = bucket_summaries(due_s, latency_s, m_status, answered, plan.bucket_s)
            unanswered = unanswered_per_second(due_s, answered)
        return Result(
            mode="open",
            offered_rps=plan.rate,
            achieved_rps=float(answered.sum()) / window if window > 0 else 0.0,
            window_s=window,
            requests=len(m_status),
            answered=int(answered.sum()),
            statuses=count_statuses(m_status),
            latency_ms=percentiles_ms(latency_s),
            service_ms=percentiles_ms(_unanswered_as_inf(m_done - m_sent, answered)),
            lateness_ms=_lateness_ms(m_sent[~np.isnan(m_sent)] - m_due[~np.isnan(m_sent)]),
            loadgen_cpu_pct=cpu_percent(cpu_used, window_end - float(m_due[0])),
            buckets=buckets,
            unanswered_per_second=unanswered,
        )

    async def _closed_loop(self) -> Result:
        plan = self.plan
        ids = customer_sequence(200_000, plan.customers, plan.zipf_exponent, plan.seed)
        customers = [c.encode() for c in ids]
        start = clock()
        measure_from = start + plan.warmup_s
        stop_at = measure_from + plan.duration_s
        latencies: list[float] = []
        statuses: list[int | str] = []
        counter = iter(range(1 << 62))

        async def worker() -> None:
            while (now := clock()) < stop_at:
                i = next(counter)
                outcome = await self._call(i, customers[i % len(customers)])
                if now >= measure_from:
                    statuses.append(outcome)
                    good = isinstance(outcome, int) and outcome in ANSWERED
                    latencies.append(clock() - now if good else math.inf)

        async def marker() -> float:
            await asyncio.sleep(max(0.0, measure_from - clock()))
            _mark("MEASURE-START")
            return time.process_time()

        marking = asyncio.create_task(marker())
        await asyncio.gather(*(worker() for _ in range(plan.concurrency)))
        cpu_used = time.process_time() - await marking
        window = clock() - measure_from
        _mark("MEASURE-END")
        answered = sum(1 for x in latencies if x != math.inf)
        return Result(
            mode="closed",
            offered_rps=None,
            achieved_rps=answered / window,
            window_s=window,
            requests=len(statuses),
            answered=answered,
            statuses=count_statuses(statuses),
            latency_ms=percentiles_ms(latencies),
            service_ms=percentiles_ms(latencies),
            lateness_ms={"p50": 0.0, "p99": 0.0, "max": 0.0},
            loadgen_cpu_pct=cpu_percent(cpu_used, window),
            extra={"concurrency": plan.concurrency},
        )


def _unanswered_as_inf(latencies_s: np.ndarray, answered: np.ndarray) -> np.ndarray:
    # A request without an answer (error, timeout, never sent) is slower than any answer: it
    # counts in the percentiles as infinitely late, so p99 is only finite if 99 % were answered.
    return np.where(answered, latencies_s, math.inf)


def _lateness_ms(late_s: np.ndarray) -> dict[str, float]:
    summary = Lateness.of(late_s)
    return {"p50": summary.p50_s * 1e3, "p99": summary.p99_s * 1e3, "max": summary.max_s * 1e3}


def _mark(text: str) -> bool:
    print(text, flush=True)
    return True


def main(argv: list[str]) -> None:
    """Run the plan given as JSON in ``argv[1]`` and print its result as JSON."""
    plan = Plan(**json.loads(argv[1]))
    if plan.cpu is not None:
        os.sched_setaffinity(0, {plan.cpu})
    import uvloop

    result = uvloop.run(LoadGenerator(plan).run())
    print(json.dumps(asdict(result)), flush=True)


if __name__ == "__main__":
    main(sys.argv)
