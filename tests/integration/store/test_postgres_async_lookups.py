"""Lookups on PostgreSQL awaited natively (psycopg AsyncConnection): same answers and errors as
the blocking client, no worker thread, bounded connections, read endpoints then the primary."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator

import pytest

from store import StoreInvalidRequest, StoreUnavailable, open_async_store
from store.postgres.async_lookups import PostgresAsyncStore
from tests.support.journey_rows import journey_row, journeys_table
from tests.support.postgres_fixtures import (
    PostgresCluster,
    PostgresStoreServer,
    create_store_database,
    make_pg_tokens,
    running_cluster,
    running_standby,
)
from tests.support.store_fixtures import unique_prefix
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration


def _seed(store: PostgresStoreServer) -> list[str]:
    prefix = unique_prefix()
    customers = [f"{prefix}-{n}" for n in range(30)]
    rows = [
        journey_row(customer, f"j-{j}", status="closed" if j == 2 else "open", priority=j * 10)
        for customer in customers
        for j in range(3)
    ]
    with store.client("writer") as writer:
        writer.upsert(journeys_table(rows))
    return customers


def _async_reader(
    store: PostgresStoreServer, read_urls: tuple[str, ...] = (), timeout: float = 5.0
) -> PostgresAsyncStore:
    client = open_async_store(
        store.url_for("reader"), store.tokens["reader"], read_urls=read_urls, timeout=timeout
    )
    assert isinstance(client, PostgresAsyncStore)
    return client


def _unused_port_url(store: PostgresStoreServer) -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return store.url_for("reader").replace(f":{store.cluster.port}/", f":{port}/")


async def test_async_lookups_answer_like_the_blocking_client_without_a_worker_thread(
    postgres_store: PostgresStoreServer,
) -> None:
    customers = _seed(postgres_store)
    with postgres_store.client("reader") as blocking:
        async with _async_reader(postgres_store) as reader:
            for ids, status in [
                (customers[:1], "all"),
                (customers[:7], "open"),
                (customers, "closed"),
                ([customers[0], "nobody", customers[0]], "all"),
            ]:
                assert (await reader.lookup(ids, status)).equals(blocking.lookup(ids, status))
            assert (await reader.lookup([], "open")).num_rows == 0
            with pytest.raises(StoreInvalidRequest, match="status"):
                await reader.lookup(customers[:1], "pending")
            with pytest.raises(StoreInvalidRequest, match="characters"):
                await reader.lookup(["x" * 10_000])
            # No lookup went through the worker pool (its threads start on first use).
            assert not reader._executor._threads


async def test_many_concurrent_lookups_share_a_bounded_set_of_connections(
    postgres_store: PostgresStoreServer,
) -> None:
    customers = _seed(postgres_store)
    async with _async_reader(postgres_store) as reader:
        results = await asyncio.gather(*(reader.lookup([c], "open") for c in customers * 5))
        assert [r.num_rows for r in results] == [2] * len(customers) * 5
        assert len(reader._reads.primary._idle) <= 8


async def test_a_connection_the_server_dropped_is_replaced_and_the_lookup_answers(
    postgres_store: PostgresStoreServer,
) -> None:
    customers = _seed(postgres_store)
    async with _async_reader(postgres_store) as reader:
        assert (await reader.lookup(customers[:3])).num_rows == 9
        postgres_store.cluster.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = "
            f"'journeys_reader' AND datname = '{postgres_store.dbname}'"
        )
        assert (await reader.lookup(customers[:3])).num_rows == 9


async def test_a_read_endpoint_that_is_down_falls_back_to_the_primary(
    postgres_store: PostgresStoreServer,
) -> None:
    customers = _seed(postgres_store)
    async with _async_reader(
        postgres_store, read_urls=(_unused_port_url(postgres_store),), timeout=2.0
    ) as reader:
        for _ in range(3):
            assert (await reader.lookup(customers[:2], "open")).num_rows == 4
        standby = reader._reads.readers[0]
        assert standby.down_until > 0  # skipped for a while after it failed


async def test_no_server_answering_is_a_clear_unavailable_error(
    postgres_store: PostgresStoreServer,
) -> None:
    url = _unused_port_url(postgres_store)
    async with open_async_store(url, postgres_store.tokens["reader"], timeout=1.0) as reader:
        with pytest.raises(StoreUnavailable, match=r"store at 127\.0\.0\.1:\d+/.* unavailable"):
            await reader.lookup(["anyone"])


@contextlib.contextmanager
def hung_listener() -> Iterator[int]:
    """A port that accepts connections and never answers (a standby hung in the kernel)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                accepted.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in accepted:
            connection.close()
        server.close()


async def test_a_standby_that_accepts_and_never_answers_is_skipped_within_the_budget(
    postgres_store: PostgresStoreServer,
) -> None:
    # Before: the hung standby was marked down only by the store timeout (5 s), which the
    # responder's budget (at most 2 s) always cut first: every lookup failed, primary never tried.
    customers = _seed(postgres_store)
    with hung_listener() as port:
        hung = postgres_store.url_for("reader").replace(
            f":{postgres_store.cluster.port}/", f":{port}/"
        )
        async with _async_reader(postgres_store, read_urls=(hung,), timeout=5.0) as reader:
            for _ in range(5):
                async with asyncio.timeout(2.0):  # the responder's lookup budget
                    assert (await reader.lookup(customers[:2], "open")).num_rows == 4
            assert reader._reads.readers[0].down_until > 0


async def test_a_standby_that_stops_answering_on_open_connections_is_skipped_within_the_budget(
    postgres_store: PostgresStoreServer,
) -> None:
    # Before: a lookup on a connection the standby had already accepted was cancelled at the
    # attempt bound, and psycopg then asked the hung server to cancel the query and waited for
    # it (up to 10 s): the lookup outlived the responder's budget and the standby was never
    # marked down, so the next lookups hung on it too.
    customers = _seed(postgres_store)
    port = postgres_store.cluster.port
    with TcpProxy(port) as proxy:
        standby = postgres_store.url_for("reader").replace(f":{port}/", f":{proxy.port}/")
        async with _async_reader(postgres_store, read_urls=(standby,), timeout=5.0) as reader:
            assert (await reader.lookup(customers[:2], "open")).num_rows == 4
            assert proxy.accepted >= 1  # answered through the proxy: its connection is open
            proxy.hang()
            for _ in range(5):
                async with asyncio.timeout(2.0):  # the responder's lookup budget
                    assert (await reader.lookup(customers[:2], "open")).num_rows == 4
            assert reader._reads.readers[0].down_until > 0


def test_a_standby_replaying_too_far_behind_is_skipped_until_it_catches_up() -> None:
    with running_cluster() as primary:
        tokens = make_pg_tokens(primary)
        store = create_store_database(primary, tokens, "journeys")
        with running_standby(primary) as standby:
            asyncio.run(_lookups_follow_the_replay_lag(store, standby))


async def _lookups_follow_the_replay_lag(
    store: PostgresStoreServer, standby: PostgresCluster
) -> None:
    def upsert(priority: int) -> None:
        with store.client("writer") as writer:
            writer.upsert(journeys_table([journey_row("lag-1", "j-1", priority=priority)]))

    async def priority_seen(reader: PostgresAsyncStore) -> int:
        priorities = (await reader.lookup(["lag-1"])).column("priority").to_pylist()
        return int(priorities[0]) if priorities else -1  # -1: not replicated yet

    standby_url = standby.url("journeys", "journeys_reader")
    upsert(priority=1)
    reader = open_async_store(
        store.url_for("reader"), store.tokens["reader"], read_urls=[standby_url],
        timeout=2.0, max_replay_lag=1.0,
    )  # fmt: skip
    assert isinstance(reader, PostgresAsyncStore)
    async with reader:
        await async_wait_until(lambda: priority_seen(reader), 1, 60, "replication")
        standby.execute("SELECT pg_wal_replay_pause()")
        upsert(priority=2)
        # The paused standby still has priority 1; past the bound the primary answers.
        await async_wait_until(lambda: priority_seen(reader), 2, 60, "standby skipped")
        assert reader._reads.readers[0].stale
        standby.execute("SELECT pg_wal_replay_resume()")
        for _ in range(600):
            if not reader._reads.readers[0].stale:
                break
            await asyncio.sleep(0.1)
        assert not reader._reads.readers[0].stale, "the standby caught up but stays skipped"
        assert await priority_seen(reader) == 2


async def async_wait_until(
    probe: Callable[[], Awaitable[int]], wanted: int, timeout_s: float, what: str
) -> None:
    """Poll ``probe`` every 0.1 s until it returns ``wanted``, at most ``timeout_s``."""
    seen = None
    for _ in range(int(timeout_s * 10)):
        if (seen := await probe()) == wanted:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what}: still {seen}, not {wanted}, after {timeout_s:g} s")
