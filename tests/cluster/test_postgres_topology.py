"""The production PostgreSQL topology under its faults, with every answer checked.

A primary with two streaming hot standbys (``pg_basebackup -R``), the store's schema and roles;
two responders whose lookups go to the standbys first (``READ_URLS``: standby 1 through a TCP
proxy that can hang, then standby 2; the primary last) and two gateways, under open-loop load
(tests/chaos/load.py). Three faults, each undone before the next scenario:

1. standby 1 hangs (the proxy accepts and forwards nothing): failures, if any, only within one
   lookup budget of the hang, then none; no wrong answer;
2. standby 1's replay is paused while the primary changes what lookups must return: past the
   staleness bound (``MAX_REPLAY_LAG_S``) plus the time the responders need to notice it
   (:data:`NEW_BY_S`), no answer is stale; resumed, standby 1 serves lookups again;
3. the primary is killed (SIGKILL): the standbys keep answering, no failure, no wrong answer;
   restarted, it streams to both standbys again and lookups stay correct.

Each scenario prints and writes its figures (tests/artifacts/chaos/cluster-pg-*.json):
requests, answers by status, wrong answers, failures per second, the gateways' hedges and
reroutes during the run.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import socketserver
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Final

import httpx
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from store.postgres.replay_lag import CHECK_INTERVAL_S
from tests.chaos.conftest import ChaosStack, assert_no_failures, read_expected
from tests.chaos.load import DEADLINE_S, LoadReport
from tests.support.kafka_fixtures import KafkaBroker
from tests.support.postgres_fixtures import (
    PostgresCluster,
    PostgresStoreServer,
    ReplicatedCluster,
    create_store_database,
    make_pg_tokens,
    pause_replay,
    query_value,
    resume_replay,
    running_replicated_cluster,
)
from tests.support.processes import wait_until
from tests.support.stack_fixtures import ProcessStack
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(400)]

CUSTOMERS: Final = 200
RATE: Final = 100.0
#: The responders' staleness bound (JOURNEYS_RESPONDER_STORE__MAX_REPLAY_LAG_S), set low here.
MAX_REPLAY_LAG_S: Final = 1.0
#: The most time a batch's lookup gets (the responder's store_max_budget_ms default).
LOOKUP_BUDGET_S: Final = 2.0
#: A request sent this long after a write was acknowledged must see it: the bound, plus up to
#: two replay-lag checks (the first sees the primary's new WAL position, the next finds the
#: standby past the bound), plus a second for lookups already under way and the reply path.
NEW_BY_S: Final = MAX_REPLAY_LAG_S + 2 * CHECK_INTERVAL_S + 1.0
PRICE_CHANGE: Final = 1_000  # added to the priority of the journeys a scenario rewrites
_LOOKUPS_SINCE = (
    "SELECT count(*) FROM pg_stat_activity WHERE usename = 'journeys_reader' "
    "AND query LIKE '%%journeys_lookup%%' AND state_change > %s"
)
Pairs = list[tuple[str, int]]
#: What a responder logs when it stops and starts reading a standby (store/postgres/).
SKIPPED_LOG: Final = "behind the primary: skipped"
CAUGHT_UP_LOG: Final = "caught up with the primary: used again"


@dataclass
class PgTopology:
    """The running topology: clusters, the proxy in front of standby 1, the processes."""

    chaos: ChaosStack
    cluster: ReplicatedCluster
    proxy: TcpProxy
    store: PostgresStoreServer
    #: What each customer's lookup must answer: the load client's own mapping, which a
    #: scenario updates when it changes the store.
    expected: dict[str, Pairs]

    @property
    def standby1(self) -> PostgresCluster:
        return self.cluster.standbys[0]

    @property
    def standby2(self) -> PostgresCluster:
        return self.cluster.standbys[1]

    def responder_logs(self) -> list[Path]:
        return [r.process.log_path for r in self.chaos.responders]


@pytest.fixture(scope="module")
def topology(
    kafka_broker: KafkaBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PgTopology]:
    """Primary + 2 standbys, the proxy, 2 responders, 2 gateways; stopped in reverse order."""
    with ExitStack() as stop:
        # synchronous_commit on, as in production: an acknowledged write is in the WAL that
        # the replay-lag checks compare (fsync stays off: this is not a durability test).
        cluster = stop.enter_context(running_replicated_cluster(2, synchronous_commit="on"))
        primary = cluster.primary
        store = create_store_database(primary, make_pg_tokens(primary), "journeys")
        proxy = stop.enter_context(TcpProxy(cluster.standbys[0].port))
        stack = ProcessStack(kafka_broker, tmp_path_factory.mktemp("pg-topology"), postgres=store)
        stop.callback(stack.close)
        stack.seed(CUSTOMERS)
        cluster.wait_for_replay()
        read_urls = [
            f"postgresql://journeys_reader@127.0.0.1:{proxy.port}/journeys",
            cluster.standbys[1].url("journeys", "journeys_reader"),
        ]
        env = {
            "JOURNEYS_RESPONDER_STORE__READ_URLS": json.dumps(read_urls),
            "JOURNEYS_RESPONDER_STORE__MAX_REPLAY_LAG_S": str(MAX_REPLAY_LAG_S),
        }
        responders = [
            stack.start_responder(
                f"responder-{n}", JOURNEYS_RESPONDER_GROUP_INSTANCE_ID=f"responder-{n}", **env
            )
            for n in (1, 2)
        ]
        gateways = [stack.start_gateway(f"gateway-{n}", reply_partition=n) for n in (0, 1)]
        with stack.store_client("offloader") as client:
            customers = sorted(set(client.scan("all").read_all().column("customer_id").to_pylist()))
        expected = dict(read_expected(stack, customers))
        chaos = ChaosStack(stack, responders, gateways, expected)
        chaos.wait_for_group(2)
        warm = asyncio.run(chaos.load(rate=200).run("warm-up", seconds=1.0))
        if warm.wrong or warm.failed:
            raise RuntimeError(f"the topology failed before any fault: {warm.summary()}")
        yield PgTopology(chaos, cluster, proxy, store, expected)


# -- helpers ------------------------------------------------------------------------------------
def server_now(cluster: PostgresCluster) -> datetime:
    """``cluster``'s clock (pg_stat_activity times are compared with it)."""
    now: datetime = query_value(cluster, "SELECT clock_timestamp()")
    return now


def lookups_since(cluster: PostgresCluster, since: datetime) -> int:
    """Reader connections of ``cluster`` whose last statement, after ``since``, was a lookup."""
    with psycopg.connect(cluster.admin_conninfo(), autocommit=True) as connection:
        row = connection.execute(_LOOKUPS_SINCE, [since]).fetchone()
    return 0 if row is None else int(row[0])


def wait_for_lookups(cluster: PostgresCluster, since: datetime, timeout: float = 20.0) -> None:
    """Until ``cluster`` answers lookups that started after ``since``."""
    what = f"lookups on the server on port {cluster.port}"
    wait_until(lambda: lookups_since(cluster, since) > 0, timeout, what, 0.1)


def log_count(path: Path, text: str) -> int:
    return path.read_text(errors="replace").count(text)


def logged_since(path: Path, text: str, count: int) -> bool:
    """True once ``text`` is in the log at ``path`` more than ``count`` times."""
    return log_count(path, text) > count


def counters_delta(
    before: Mapping[str, Mapping[str, float]], after: Mapping[str, Mapping[str, float]]
) -> dict[str, dict[str, float]]:
    """Each gateway's hedge/resend/reroute counters over one run (after minus before)."""
    return {
        gateway: {
            name: value - before.get(gateway, {}).get(name, 0.0)
            for name, value in counters.items()
            if value - before.get(gateway, {}).get(name, 0.0)
        }
        for gateway, counters in after.items()
    }


def rewrite_priorities(stack: ProcessStack, customers: list[str]) -> dict[str, Pairs]:
    """Add PRICE_CHANGE to the priority of ``customers``' open journeys on the primary; their
    new expected answers."""
    with stack.store_client("reader") as reader:
        table = reader.lookup(customers, "open")
    priority = table.schema.get_field_index("priority")
    changed = pc.add(table.column("priority"), pa.scalar(PRICE_CHANGE, pa.int32()))
    table = table.set_column(priority, "priority", changed).drop_columns(["updated_at"])
    with stack.store_client("writer") as writer:
        writer.upsert(table)
    expected: dict[str, Pairs] = {customer: [] for customer in customers}
    for customer, journey, value in zip(
        table.column("customer_id").to_pylist(),
        table.column("journey_id").to_pylist(),
        table.column("priority").to_pylist(),
        strict=True,
    ):
        expected[customer].append((journey, value))
    return {customer: sorted(pairs) for customer, pairs in expected.items()}


def changed_customers(chaos: ChaosStack, count: int, offset: int) -> list[str]:
    """``count`` customers with open journeys, spread over the list (the load cycles it)."""
    with_journeys = [c for c, pairs in sorted(chaos.expected.items()) if pairs]
    return with_journeys[offset :: max(1, len(with_journeys) // count)][:count]


@dataclass(frozen=True, slots=True)
class Probe:
    """One lookup of a changed customer: which version it answered (old, new, other, failed)."""

    sent_at: float
    answered_at: float
    version: str


def _version(response: httpx.Response, old: Pairs, new: Pairs | None) -> str:
    if response.status_code not in (200, 404):
        return "other"
    journeys = response.json()["journeys"] if response.status_code == 200 else []
    got = sorted((j["journey_id"], j["priority"]) for j in journeys)
    if got == old:
        return "old"
    return "new" if got == new else "other"


async def probe_versions(
    chaos: ChaosStack,
    old: Mapping[str, Pairs],
    new: Mapping[str, Pairs],
    started: float,
    stop: asyncio.Event,
    rate: float = 40.0,
) -> list[Probe]:
    """Open-loop lookups of the changed customers through both gateways until ``stop``; each
    answer classified as the version before the write, after it, or neither."""
    probes: list[Probe] = []
    customers = itertools.cycle(sorted(old))
    gateways = itertools.cycle([g.url for g in chaos.gateways])
    headers = {"X-API-Key": chaos.stack.api_key}

    async def one(http: httpx.AsyncClient, customer: str, url: str) -> None:
        sent = time.monotonic()
        version = "failed"
        try:
            response = await http.get(f"{url}/v1/customers/{customer}/journeys")
            if response.status_code < 500:
                version = _version(response, old[customer], new.get(customer))
        except httpx.HTTPError:
            pass
        probes.append(Probe(sent - started, time.monotonic() - started, version))

    tasks: set[asyncio.Task[None]] = set()
    async with httpx.AsyncClient(headers=headers, timeout=DEADLINE_S + 10.0) as http:
        begun = time.monotonic()
        for n in itertools.count():
            if stop.is_set():
                break
            await asyncio.sleep(max(0.0, begun + n / rate - time.monotonic()))
            task = asyncio.create_task(one(http, next(customers), next(gateways)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
    return probes


def publish(
    report: LoadReport,
    chaos: ChaosStack,
    before: Mapping[str, Mapping[str, float]],
    marks: Mapping[str, float],
    **extra: Any,
) -> dict[str, Any]:
    """The scenario's figures, printed and written as JSON (LoadReport.publish)."""
    after = chaos.gateway_counters()
    rounded = {name: round(value, 2) for name, value in marks.items()}
    gateways = counters_delta(before, after)
    wrong_at = dict(sorted(Counter(int(o.sent_at) for o in report.wrong).items()))
    summary = report.publish({**rounded, "gateways": gateways, "wrong_at_s": wrong_at, **extra})
    totals: Counter[str] = Counter()
    for counters in gateways.values():
        totals.update({name.removeprefix("journeys_gateway_"): n for name, n in counters.items()})
    print(
        f"      gateways {dict(totals)}  failed per second {summary['failed_at_s']}  "
        f"wrong per second {wrong_at}  marks {rounded}  {extra or ''}"
    )
    return summary


def assert_processes_alive(chaos: ChaosStack) -> None:
    assert all(r.process.running() for r in chaos.responders), "a responder exited"
    assert all(g.process.running() for g in chaos.gateways), "a gateway exited"


# -- the scenarios ------------------------------------------------------------------------------
HUNG_S: Final = 8.0


async def test_a_standby_that_hangs_costs_at_most_one_lookup_budget_of_failures(
    topology: PgTopology,
) -> None:
    chaos = topology.chaos
    before = await asyncio.to_thread(chaos.gateway_counters)
    marks: dict[str, float] = {}
    served: dict[str, int] = {}
    started = time.monotonic()

    async def hang_then_heal() -> None:
        hung_since = await asyncio.to_thread(server_now, topology.standby2)
        marks["hang_at_s"] = time.monotonic() - started
        topology.proxy.hang()
        await asyncio.sleep(HUNG_S)
        served["standby2_reader_connections_during_hang"] = await asyncio.to_thread(
            lookups_since, topology.standby2, hung_since
        )
        resumed_since = await asyncio.to_thread(server_now, topology.standby1)
        topology.proxy.resume()
        marks["resume_at_s"] = time.monotonic() - started
        # Its down mark expires: standby 1 answers lookups again (directly on its port).
        await asyncio.to_thread(wait_for_lookups, topology.standby1, resumed_since)
        marks["standby1_used_again_at_s"] = time.monotonic() - started

    report = await chaos.load(RATE).run("cluster-pg-standby-hangs", 3.0, hang_then_heal)

    hang_at = marks["hang_at_s"]
    summary = publish(
        report, chaos, before, marks, **served, proxy_accepted=topology.proxy.accepted
    )
    assert not report.wrong, f"wrong answers: {report.wrong[:5]}"
    assert report.skipped == 0
    assert_processes_alive(chaos)
    # Requests under way when it hung (sent up to a deadline before) or sent within one lookup
    # budget after may fail; none after.
    late = [o for o in report.failed if not hang_at - DEADLINE_S <= o.sent_at <= hang_at + 2.0]
    assert not late, f"failures past one lookup budget after the hang: {summary['failed_at_s']}"
    while_hung = [o for o in report.outcomes if hang_at + 2.0 < o.sent_at < marks["resume_at_s"]]
    assert while_hung, "no load while the standby hung"
    assert served["standby2_reader_connections_during_hang"] > 0, "standby 2 served no lookup"


async def test_a_standby_replaying_behind_the_bound_never_answers_stale_past_it(
    topology: PgTopology,
) -> None:
    chaos = topology.chaos
    changed = changed_customers(chaos, 20, offset=0)
    old = {c: list(chaos.expected[c]) for c in changed}
    new: dict[str, Pairs] = {}
    caught_up, skipped = CAUGHT_UP_LOG, SKIPPED_LOG
    logs = topology.responder_logs()
    caught_up_before = [log_count(p, caught_up) for p in logs]
    skipped_before = [log_count(p, skipped) for p in logs]
    before = await asyncio.to_thread(chaos.gateway_counters)
    marks: dict[str, float] = {}
    started = time.monotonic()

    async def pause_write_resume() -> None:
        await asyncio.to_thread(pause_replay, topology.standby1)
        marks["paused_at_s"] = time.monotonic() - started
        marks["write_start_s"] = time.monotonic() - started
        new.update(await asyncio.to_thread(rewrite_priorities, chaos.stack, changed))
        marks["written_at_s"] = time.monotonic() - started
        # From now on the load client expects the new version (see the window below).
        topology.expected.update(new)
        await asyncio.sleep(NEW_BY_S + 4.0)  # past the bound: every answer is new
        resumed_since = await asyncio.to_thread(server_now, topology.standby1)
        await asyncio.to_thread(resume_replay, topology.standby1)
        marks["resumed_at_s"] = time.monotonic() - started
        for path, count in zip(logs, caught_up_before, strict=True):
            logged = partial(logged_since, path, caught_up, count)
            await asyncio.to_thread(wait_until, logged, 20.0, f"{path.name}: {caught_up}")
        marks["caught_up_logged_at_s"] = time.monotonic() - started
        await asyncio.to_thread(wait_for_lookups, topology.standby1, resumed_since)
        marks["standby1_used_again_at_s"] = time.monotonic() - started

    stop = asyncio.Event()
    prober = asyncio.create_task(probe_versions(chaos, old, new, started, stop))
    try:
        report = await chaos.load(RATE).run("cluster-pg-replay-paused", 3.0, pause_write_resume)
    finally:
        stop.set()
        probes = await prober

    write_start, written = marks["write_start_s"], marks["written_at_s"]
    versions = Counter(p.version for p in probes)
    stale_after_write = [p for p in probes if p.version == "old" and p.answered_at > written]
    summary = publish(
        report,
        chaos,
        before,
        marks,
        new_by_s=NEW_BY_S,
        probes=dict(versions),
        stale_probes_after_write=len(stale_after_write),
        last_stale_sent_after_write_s=round(
            max((p.sent_at - written for p in stale_after_write), default=0.0), 2
        ),
        skipped_logged=[
            log_count(p, skipped) - n for p, n in zip(logs, skipped_before, strict=True)
        ],
    )
    assert report.skipped == 0
    assert_processes_alive(chaos)
    assert_no_failures(report)
    # Before the write every answer is the old version; from its start until NEW_BY_S after it
    # was acknowledged either version is right (the load client counts the old one as wrong
    # once the write is acknowledged); after that, only the new one.
    outside = [
        o
        for o in report.wrong
        if o.sent_at + o.latency_s < write_start or o.sent_at >= written + NEW_BY_S
    ]
    assert not outside, f"wrong answers outside the staleness window: {outside[:5]}"
    assert versions["other"] == 0, f"answers that are neither version: {versions}"
    assert versions["failed"] == 0, f"failed probes: {versions}"
    stale_late = [p for p in stale_after_write if p.sent_at >= written + NEW_BY_S]
    assert not stale_late, f"{len(stale_late)} stale answers past the bound: {stale_late[:5]}"
    early_new = [p for p in probes if p.version == "new" and p.answered_at < write_start]
    assert not early_new, "the new version before it was written"
    # The fault was real: the paused standby answered with the old version after the write.
    assert stale_after_write, "no stale answer at all: standby 1 was not read while paused"
    assert all(n > 0 for n in summary["skipped_logged"]), "a responder never skipped standby 1"


PRIMARY_DOWN_S: Final = 6.0


async def test_a_killed_primary_costs_no_lookup_while_the_standbys_serve(
    topology: PgTopology,
) -> None:
    chaos, cluster = topology.chaos, topology.cluster
    logs = topology.responder_logs()
    skipped_before = [log_count(p, SKIPPED_LOG) for p in logs]
    before = await asyncio.to_thread(chaos.gateway_counters)
    marks: dict[str, float] = {}
    started = time.monotonic()

    async def kill_then_restart() -> None:
        marks["killed_at_s"] = time.monotonic() - started
        await asyncio.to_thread(cluster.primary.kill)
        await asyncio.sleep(PRIMARY_DOWN_S)
        await asyncio.to_thread(cluster.restart_primary)
        marks["primary_back_at_s"] = time.monotonic() - started
        await asyncio.to_thread(cluster.wait_for_streaming)
        marks["streaming_again_at_s"] = time.monotonic() - started
        await asyncio.sleep(2.0)

    report = await chaos.load(RATE).run("cluster-pg-primary-sigkill", 3.0, kill_then_restart)

    # The restarted primary's first WAL (end of recovery) is ahead of the standbys until they
    # reconnect (wal_retrieve_retry_interval): meanwhile they may be skipped, the primary reads.
    skipped = [log_count(p, SKIPPED_LOG) - n for p, n in zip(logs, skipped_before, strict=True)]
    publish(report, chaos, before, marks, standbys_skipped_logged=skipped)
    assert not report.wrong, f"wrong answers: {report.wrong[:5]}"
    assert report.skipped == 0
    assert_processes_alive(chaos)
    assert_no_failures(report)
    killed, back = marks["killed_at_s"], marks["primary_back_at_s"]
    assert any(killed + 1.0 < o.sent_at < back for o in report.outcomes), "no load while down"

    # The restarted primary takes writes again and both standbys replay them.
    changed = changed_customers(chaos, 10, offset=3)
    new = await asyncio.to_thread(rewrite_priorities, chaos.stack, changed)
    await asyncio.to_thread(cluster.wait_for_replay)
    topology.expected.update(new)
    before = await asyncio.to_thread(chaos.gateway_counters)
    after = await chaos.load(RATE).run("cluster-pg-after-primary-restart", 3.0)
    publish(after, chaos, before, {})
    assert not after.wrong, f"wrong answers after the restart: {after.wrong[:5]}"
    assert_no_failures(after)


def test_the_proxy_forwards_hangs_and_forwards_again() -> None:
    """The TCP proxy itself (tests/support/tcp_proxy.py), against an echo server."""

    class Echo(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            while data := self.request.recv(1024):
                self.request.sendall(data)

    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo) as echo:
        echo.daemon_threads = True
        serving = threading.Thread(target=echo.serve_forever, daemon=True)
        serving.start()
        try:
            with TcpProxy(echo.server_address[1]) as proxy:
                first = socket.create_connection(("127.0.0.1", proxy.port), timeout=2.0)
                first.sendall(b"a")
                assert first.recv(16) == b"a"
                proxy.hang()
                first.sendall(b"b")
                second = socket.create_connection(("127.0.0.1", proxy.port), timeout=2.0)
                second.sendall(b"c")
                for silent in (first, second):
                    silent.settimeout(0.3)
                    with pytest.raises(TimeoutError):
                        silent.recv(16)
                proxy.resume()
                for sock, held in ((first, b"b"), (second, b"c")):
                    sock.settimeout(5.0)
                    assert sock.recv(16) == held
                    sock.close()
                assert proxy.accepted == 2
        finally:
            echo.shutdown()
