"""What only the PostgreSQL backend has: its schema, database-enforced roles, the commit-ordered
change marker under concurrent writers, and reads from a hot standby when the primary dies."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from journeys.schema import KEY_SCHEMA
from store import (
    StoreError,
    StoreUnavailable,
    generate_journeys,
    init_store,
    open_async_store,
    open_store,
)
from store.postgres.client import _LOOKUP_MANY_SQL, _LOOKUP_ONE_SQL
from tests.support.journey_rows import journey_row, journeys_table
from tests.support.postgres_fixtures import (
    PostgresCluster,
    PostgresStoreServer,
    create_store_database,
    make_pg_tokens,
    running_cluster,
    running_standby,
)
from tests.support.processes import wait_until
from tests.support.store_fixtures import unique_prefix

pytestmark = pytest.mark.integration
PgFactory = Callable[..., AbstractContextManager[PostgresStoreServer]]


def _admin_rows(store: PostgresStoreServer, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    conninfo = store.cluster.admin_conninfo(store.dbname)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        cursor = connection.execute(sql.encode(), params or None)
        return cursor.fetchall() if cursor.description else []


def _as_role(store: PostgresStoreServer, role: str) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(store.url_for(role), password=store.tokens[role], autocommit=True)


def test_init_is_idempotent_records_versions_and_hash_partitions_by_customer(
    postgres_cluster: PostgresCluster, postgres_tokens: dict[str, str]
) -> None:
    store = create_store_database(postgres_cluster, postgres_tokens)  # init ran once (4 parts)
    admin_url = postgres_cluster.url(store.dbname)
    assert init_store(admin_url, postgres_cluster.password, partitions=8) == []
    assert _admin_rows(store, "SELECT version FROM journeys_schema_version") == [(1,), (2,)]
    strategy = _admin_rows(
        store,
        "SELECT p.partstrat, a.attname FROM pg_partitioned_table p JOIN pg_attribute a "
        "ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] "
        "WHERE p.partrelid = 'journeys'::regclass",
    )
    assert strategy == [("h", "customer_id")]
    parts = _admin_rows(store, "SELECT count(*) FROM pg_inherits WHERE "
                               "inhparent = 'journeys'::regclass")  # fmt: skip
    assert parts == [(4,)]


def _generic_plan(store: PostgresStoreServer, statement: str, argument: str) -> str:
    """The plan PostgreSQL runs for the backend's prepared ``statement`` (``%s`` = $1) as the
    backend's connections run it (generic plans), executed with ``argument`` (SQL literal)."""
    conninfo = store.cluster.admin_conninfo(store.dbname)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute("SET plan_cache_mode = force_generic_plan")
        connection.execute(f"PREPARE lookup AS {statement.replace('%s', '$1')}".encode())
        cursor = psycopg.ClientCursor(connection)
        rows = cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF) EXECUTE lookup({argument})")
        return "\n".join(row[0] for row in rows.fetchall())


def test_lookups_use_the_primary_key_index_and_one_customer_only_its_partition(
    postgres_store_factory: PgFactory,
) -> None:
    with postgres_store_factory() as store, store.client("writer") as writer:
        for table in generate_journeys(4_000, seed=3, batch_customers=4_000):
            writer.upsert(table)
        _admin_rows(store, "ANALYZE journeys")
        one = _generic_plan(store, _LOOKUP_ONE_SQL["all"], "'cust-0000001'::text")
        many = _generic_plan(
            store, _LOOKUP_MANY_SQL["open"], "ARRAY['cust-0000001', 'cust-0000002']::text[]"
        )
    for plan in (one, many):
        assert "journeys_p" in plan, plan
        assert "_pkey" in plan, plan
        assert "Seq Scan" not in plan, plan
    # Hash partitions by customer_id: a single customer's lookup reads only its partition,
    # pruned when the generic plan starts (4 partitions: 3 removed).
    assert "Subplans Removed: 3" in one, one


@pytest.mark.parametrize(
    ("role", "statement"),
    [
        ("reader", "SELECT * FROM journeys"),
        ("reader", "DELETE FROM journeys"),
        ("writer", "SELECT * FROM journeys_lookup"),
        ("writer", "DELETE FROM journeys"),
        ("offloader", "SELECT * FROM journeys_lookup"),
        ("offloader", "UPDATE journeys SET step = 1"),
        ("offloader", "UPDATE journeys_clock SET last = now()"),
    ],
)
def test_the_database_itself_refuses_what_a_role_may_not_do(
    postgres_store: PostgresStoreServer, role: str, statement: str
) -> None:
    with (
        _as_role(postgres_store, role) as connection,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        connection.execute(statement.encode())


def test_a_write_waiting_behind_a_snapshot_is_stamped_after_it_and_survives_purge(
    postgres_store: PostgresStoreServer,
) -> None:
    customer = f"{unique_prefix()}-1"
    old = datetime.now(UTC) - timedelta(days=10)
    row = journey_row(customer, "j-1", status="closed", closed_at=old, step=1)
    with postgres_store.client("writer") as writer, postgres_store.client("offloader") as off:
        writer.upsert(journeys_table([row]))
        # Another transaction holds the clock: the next upsert copies its rows, then waits.
        blocker = psycopg.connect(postgres_store.cluster.admin_conninfo(postgres_store.dbname))
        blocker.execute(b"UPDATE journeys_clock SET last = last")
        failures: list[BaseException] = []

        def write() -> None:
            try:
                writer.upsert(journeys_table([{**row, "step": 2}]))
            except BaseException as exc:  # reported by the main thread
                failures.append(exc)

        thread = threading.Thread(target=write)
        thread.start()
        try:
            scan = off.scan(status="closed")  # its snapshot does not wait for the clock
        finally:
            blocker.commit()
            blocker.close()
        thread.join(timeout=30)
        assert not thread.is_alive()
        assert not failures
        mine = scan.read_all().filter(pc.equal(pc.field("customer_id"), customer))
        assert mine["step"].to_pylist() == [1]  # the snapshot has the old version
        deleted = off.purge(
            closed_before=datetime.now(UTC),
            snapshot_at=scan.snapshot_at,
            keys=mine.select(list(KEY_SCHEMA.names)),
        )
    with postgres_store.client("reader") as reader:
        after = reader.lookup([customer])
    assert deleted == 0
    assert after["step"].to_pylist() == [2]
    assert after["updated_at"][0].as_py() > scan.snapshot_at


def test_concurrent_writers_and_purges_never_lose_an_acknowledged_write(
    postgres_store: PostgresStoreServer,
) -> None:
    prefix = unique_prefix()
    old = datetime.now(UTC) - timedelta(days=10)
    writers, keys_per_writer, rounds = 4, 5, 15
    last_step: dict[str, int] = {}
    seen: dict[str, set[int]] = {}
    failures: list[BaseException] = []
    stop = threading.Event()

    def write(w: int) -> None:
        try:
            with postgres_store.client("writer") as client:
                for step in range(rounds):
                    customers = [f"{prefix}-{w}-{k}" for k in range(keys_per_writer)]
                    rows = [
                        journey_row(c, "j", status="closed", closed_at=old, step=step)
                        for c in customers
                    ]
                    client.upsert(journeys_table(rows))
                    for r in rows:
                        last_step[r["customer_id"]] = step
        except BaseException as exc:
            failures.append(exc)

    def offload() -> None:
        try:
            with postgres_store.client("offloader") as client:
                while not stop.is_set():
                    scan = client.scan(status="closed")
                    mine = scan.read_all().filter(pc.starts_with(pc.field("customer_id"), prefix))
                    for c, s in zip(mine["customer_id"].to_pylist(), mine["step"].to_pylist(),
                                    strict=True):  # fmt: skip
                        seen.setdefault(c, set()).add(s)
                    client.purge(closed_before=datetime.now(UTC), snapshot_at=scan.snapshot_at,
                                 keys=mine.select(list(KEY_SCHEMA.names)))  # fmt: skip
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    purger = threading.Thread(target=offload)
    purger.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    stop.set()
    purger.join(timeout=120)
    assert not failures
    with postgres_store.client("reader") as reader:
        left = reader.lookup(list(last_step))
    _check_no_write_lost(left, last_step, seen)


def _check_no_write_lost(
    left: pa.Table, last_step: dict[str, int], seen: dict[str, set[int]]
) -> None:
    present = dict(zip(left["customer_id"].to_pylist(), left["step"].to_pylist(), strict=True))
    for customer, step in last_step.items():
        if customer in present:
            assert present[customer] == step
        else:  # purged: only after a snapshot held exactly its last acknowledged version
            assert step in seen.get(customer, set()), (customer, step)


def test_lookups_keep_answering_from_the_standby_when_the_primary_is_killed() -> None:
    """Both clients: the blocking one (CLI, offload jobs) and the async one the responder uses."""
    with running_cluster() as primary:
        tokens = make_pg_tokens(primary)
        store = create_store_database(primary, tokens, "journeys")
        customers = [f"ha-{i}" for i in range(50)]
        with store.client("writer") as writer:
            writer.upsert(journeys_table([journey_row(c, "j-1") for c in customers]))
        with running_standby(primary) as standby:
            standby_url = standby.url("journeys", "journeys_reader")
            reader = open_store(store.url_for("reader"), tokens["reader"], timeout=2.0,
                                read_urls=[standby_url])  # fmt: skip
            async_reader = open_async_store(store.url_for("reader"), tokens["reader"],
                                            timeout=2.0, read_urls=[standby_url])  # fmt: skip
            direct = open_store(standby_url, tokens["reader"], timeout=2.0)
            wait_until(lambda: direct.lookup(customers).num_rows == 50, 60, "replication")
            answered = {"before": 0, "after": 0, "async before": 0, "async after": 0}
            errors: list[StoreError] = []
            killed = threading.Event()
            stop = threading.Event()

            def load() -> None:
                while not stop.is_set():
                    try:
                        found = reader.lookup(customers[:10])
                        assert found.num_rows == 10
                        answered["after" if killed.is_set() else "before"] += 1
                    except StoreError as exc:
                        errors.append(exc)
                    time.sleep(0.005)

            async def async_load() -> None:
                async with async_reader:
                    while not stop.is_set():
                        try:
                            found = await async_reader.lookup(customers[10:20])
                            assert found.num_rows == 10
                            answered["async after" if killed.is_set() else "async before"] += 1
                        except StoreError as exc:
                            errors.append(exc)
                        await asyncio.sleep(0.005)

            threads = [
                threading.Thread(target=load),
                threading.Thread(target=asyncio.run, args=(async_load(),)),
            ]
            for thread in threads:
                thread.start()
            try:
                wait_until(
                    lambda: min(answered["before"], answered["async before"]) >= 20,
                    60,
                    "lookups before the kill",
                )
                primary.kill()  # SIGKILL of the primary's whole process group
                killed.set()
                wait_until(
                    lambda: min(answered["after"], answered["async after"]) >= 100,
                    60,
                    "lookups after the kill",
                )
            finally:
                stop.set()
                for thread in threads:
                    thread.join(timeout=30)
            with (
                store.client("writer", timeout=2.0) as writer,
                pytest.raises(StoreUnavailable, match="unavailable"),
            ):
                writer.upsert(journeys_table([journey_row("ha-new", "j-1")]))
            reader.close()
            direct.close()
    assert not errors, errors[:3]
    assert min(answered["after"], answered["async after"]) >= 100
