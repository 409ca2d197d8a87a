"""Lookups on PostgreSQL awaited natively (psycopg AsyncConnection): same answers and errors as
the blocking client, no worker thread, bounded connections, read endpoints then the primary."""

from __future__ import annotations

import asyncio
import socket

import pytest

from store import StoreInvalidRequest, StoreUnavailable, open_async_store
from store.postgres.async_lookups import PostgresAsyncStore
from tests.support.journey_rows import journey_row, journeys_table
from tests.support.postgres_fixtures import PostgresStoreServer
from tests.support.store_fixtures import unique_prefix

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
