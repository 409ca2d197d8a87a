"""The store's behaviour on every backend: upsert, lookup, scan, purge, roles, durability.

Each test runs as ``[duckdb]`` (the store server process over Flight) and ``[postgres]`` (a
private PostgreSQL cluster), through the same client interface; TLS of the Flight server is
DuckDB-only.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.flight as flight
import pytest

from journeys.schema import JOURNEY_SCHEMA, KEY_SCHEMA
from store import (
    JourneyStore,
    StoreClient,
    StoreInvalidRequest,
    StoreStats,
    StoreUnauthenticated,
    StoreUnauthorized,
    StoreUnavailable,
    open_store,
)
from tests.support.journey_rows import journey_row, journeys_table
from tests.support.postgres_fixtures import PostgresStoreServer
from tests.support.store_fixtures import AnyStore, StoreServer, unique_prefix

pytestmark = pytest.mark.integration
Factory = Callable[..., AbstractContextManager[StoreServer]]
AnyFactory = Callable[..., AbstractContextManager[AnyStore]]


def _ids(table: pa.Table) -> list[tuple[str, str]]:
    return sorted(zip(table["customer_id"].to_pylist(), table["journey_id"].to_pylist(),
                      strict=True))  # fmt: skip


def _customer_rows(scan: pa.Table, prefix: str) -> pa.Table:
    return scan.filter(pc.starts_with(scan.column("customer_id"), prefix))


def test_upsert_then_lookup_returns_the_new_values(any_store: AnyStore) -> None:
    customer = f"{unique_prefix()}-1"
    rows = [journey_row(customer, "j-1", priority=3), journey_row(customer, "j-2", priority=1)]
    with any_store.client("writer") as writer, any_store.client("reader") as reader:
        assert writer.upsert(journeys_table(rows)) == 2
        found = reader.lookup([customer])
    assert found.schema.equals(JOURNEY_SCHEMA, check_metadata=True)
    assert found["journey_id"].to_pylist() == ["j-2", "j-1"]  # by priority
    assert found["priority"].to_pylist() == [1, 3]
    assert found["content"][0].as_py()["title"] == "Up to 40% off"


def test_lookups_return_every_value_as_written_nulls_and_non_ascii_included(
    any_store: AnyStore,
) -> None:
    prefix = unique_prefix()
    later = datetime(2031, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    rows = [
        journey_row(f"{prefix}-1", "j-1", campaign="été · 夏 · 🌞", journey_name="",
                    content={"title": "Ünïcødé ✓", "body": None, "cta_url": "https://x/ä",
                             "image_url": ""},
                    valid_to=later, status="closed", closed_at=later, priority=-7, step=12,
                    attributes='{"name":"Zoë","emoji":"🎉","n":[1,2]}'),
        journey_row(f"{prefix}-1", "j-2", priority=-7),
        journey_row(f"{prefix}-2", "j-1", content={"title": "", "body": None, "cta_url": None,
                                                   "image_url": None}),
    ]  # fmt: skip
    with any_store.client("writer") as writer, any_store.client("reader") as reader:
        writer.upsert(journeys_table(rows))
        one = reader.lookup([f"{prefix}-1"])
        many = reader.lookup([f"{prefix}-2", f"{prefix}-missing", f"{prefix}-1"])
    assert one.equals(many.slice(0, 2))

    def comparable(row: dict[str, object]) -> dict[str, object]:
        return {**row, "updated_at": None, "attributes": orjson.loads(str(row["attributes"]))}

    assert [comparable(r) for r in many.to_pylist()] == [comparable(r) for r in rows]


def test_reupserting_a_key_updates_and_never_duplicates(any_store: AnyStore) -> None:
    customer = f"{unique_prefix()}-1"
    with any_store.client("writer") as writer, any_store.client("reader") as reader:
        writer.upsert(journeys_table([journey_row(customer, "j-1", step=0)]))
        first = reader.lookup([customer])
        writer.upsert(journeys_table([journey_row(customer, "j-1", step=2, status="closed")]))
        second = reader.lookup([customer])
        open_only = reader.lookup([customer], status="open")
    assert second.num_rows == 1
    assert second["step"].to_pylist() == [2]
    assert second["status"].to_pylist() == ["closed"]
    assert second["updated_at"][0].as_py() > first["updated_at"][0].as_py()
    assert open_only.num_rows == 0


def test_lookup_of_many_customers_returns_each_customers_journeys(
    any_store: AnyStore,
) -> None:
    prefix = unique_prefix()
    customers = [f"{prefix}-{i}" for i in range(150)]  # above the index-scan threshold
    rows = [journey_row(c, f"j-{k}") for c in customers for k in range(2)]
    with any_store.client("writer") as writer, any_store.client("reader") as reader:
        writer.upsert(journeys_table(rows))
        found = reader.lookup([*customers, f"{prefix}-missing"])
    assert _ids(found) == sorted((c, f"j-{k}") for c in customers for k in range(2))


def test_snapshot_scan_opened_before_a_concurrent_upsert_returns_the_old_state(
    any_store: AnyStore,
) -> None:
    prefix = unique_prefix()
    customer = f"{prefix}-1"
    with any_store.client("writer") as writer, any_store.client("offloader") as offloader:
        writer.upsert(journeys_table([journey_row(customer, "j-1", step=0)]))
        scan = offloader.scan()
        writer.upsert(
            journeys_table([journey_row(customer, "j-1", step=5), journey_row(customer, "j-2")])
        )
        snapshot = scan.read_all()
        later = offloader.scan().read_all()
    assert snapshot.num_rows == scan.row_count
    mine = _customer_rows(snapshot, prefix)
    assert _ids(mine) == [(customer, "j-1")]
    assert mine["step"].to_pylist() == [0]
    assert (mine["updated_at"][0].as_py()) <= scan.snapshot_at
    after = _customer_rows(later, prefix).sort_by("journey_id")
    assert after["step"].to_pylist() == [5, 0]


def test_purge_removes_exactly_closed_rows_up_to_the_timestamp_not_updated_after_snapshot(
    any_store: AnyStore,
) -> None:
    prefix = unique_prefix()
    c = f"{prefix}-1"
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=10), now - timedelta(hours=1)
    rows = [
        journey_row(c, "closed-old", status="closed", closed_at=old),
        journey_row(c, "closed-recent", status="closed", closed_at=recent),
        journey_row(c, "closed-old-touched", status="closed", closed_at=old),
        journey_row(c, "closed-old-other", status="closed", closed_at=old),
        journey_row(c, "open", status="open"),
    ]
    with any_store.client("writer") as writer, any_store.client("offloader") as offloader:
        writer.upsert(journeys_table(rows))
        scan = offloader.scan(status="closed")
        snapshot = _customer_rows(scan.read_all(), prefix)
        # Updated after the snapshot point: must survive the purge.
        writer.upsert(journeys_table([rows[2]]))
        keys = snapshot.filter(pc.not_equal(snapshot["journey_id"], "closed-old-other"))
        deleted = offloader.purge(
            closed_before=now - timedelta(days=1),
            snapshot_at=scan.snapshot_at,
            keys=keys.select(list(KEY_SCHEMA.names)),
        )
    with any_store.client("reader") as reader:
        left = reader.lookup([c])
    assert deleted == 1
    assert sorted(left["journey_id"].to_pylist()) == [
        "closed-old-other", "closed-old-touched", "closed-recent", "open"
    ]  # fmt: skip


def test_purge_without_keys_deletes_every_closed_row_up_to_the_timestamp(
    any_store_factory: AnyFactory,
) -> None:
    with any_store_factory(name="purge-all") as server:
        now = datetime.now(UTC)
        rows = [
            journey_row("c1", "a", status="closed", closed_at=now - timedelta(days=3)),
            journey_row("c1", "b", status="closed", closed_at=now - timedelta(minutes=5)),
            journey_row("c2", "c", status="open"),
        ]
        with server.client("writer") as writer, server.client("offloader") as offloader:
            writer.upsert(journeys_table(rows))
            snapshot_at = offloader.scan().snapshot_at
            deleted = offloader.purge(
                closed_before=now - timedelta(days=1), snapshot_at=snapshot_at
            )
            stats = offloader.stats()
    assert deleted == 1
    assert (stats.rows_open, stats.rows_closed) == (1, 1)


OPERATIONS: dict[str, Callable[[JourneyStore], object]] = {
    "upsert": lambda c: c.upsert(journeys_table([journey_row("auth-1", "j")])),
    "lookup": lambda c: c.lookup(["auth-1"]),
    "scan": lambda c: c.scan().read_all(),
    "purge": lambda c: c.purge(closed_before=datetime.now(UTC), snapshot_at=datetime.now(UTC)),
    "stats": lambda c: c.stats(),
    "health": lambda c: c.health(),
}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize("token", ["", "not-a-known-token-at-all"])
def test_every_operation_rejects_a_missing_or_wrong_token(
    any_store: AnyStore, operation: str, token: str
) -> None:
    with open_store(any_store.url, token) as client, pytest.raises(StoreUnauthenticated):
        OPERATIONS[operation](client)


@pytest.mark.parametrize(
    ("role", "operation"),
    [("reader", "upsert"), ("reader", "purge"), ("reader", "scan"), ("writer", "lookup"),
     ("writer", "purge"), ("offloader", "upsert"), ("offloader", "lookup")],
)  # fmt: skip
def test_a_role_cannot_do_what_it_is_not_allowed(
    any_store: AnyStore, role: str, operation: str
) -> None:
    with any_store.client(role) as client, pytest.raises(StoreUnauthorized):
        OPERATIONS[operation](client)


def test_reader_token_cannot_upsert_or_purge(any_store: AnyStore) -> None:
    customer = f"{unique_prefix()}-1"
    with any_store.client("reader") as reader:
        with pytest.raises(StoreUnauthorized):
            reader.upsert(journeys_table([journey_row(customer, "j-1")]))
        with pytest.raises(StoreUnauthorized):
            reader.purge(closed_before=datetime.now(UTC), snapshot_at=datetime.now(UTC))
        assert reader.lookup([customer]).num_rows == 0


@pytest.mark.parametrize(
    ("change", "column"),
    [
        (lambda t: t.drop_columns(["campaign"]), "campaign"),
        (lambda t: t.set_column(4, "step", pa.array(["x"] * t.num_rows)), "step"),
        (lambda t: t.set_column(7, "status", pa.array(["open", "pending"])), "status"),
        (lambda t: t.set_column(1, "journey_id", pa.array(["ok", "bad id!"])), "journey_id"),
        (lambda t: t.set_column(14, "attributes", pa.array(["{}", "[1]"])), "attributes"),
        (lambda t: t.set_column(14, "attributes", pa.array(["{}", '{"x": NaN}'])), "attributes"),
        (lambda t: t.set_column(14, "attributes", pa.array(['{"x": 1e999}', "{}"])), "attributes"),
    ],
)
def test_malformed_batch_is_rejected_whole_with_a_message_naming_the_column(
    any_store: AnyStore, change: Callable[[pa.Table], pa.Table], column: str
) -> None:
    customer = f"{unique_prefix()}-1"
    good = journeys_table([journey_row(customer, "ok"), journey_row(customer, "two")])
    with any_store.client("writer") as writer, any_store.client("reader") as reader:
        with pytest.raises(StoreInvalidRequest, match=f"column '{column}'"):
            writer.upsert(change(good))
        assert reader.lookup([customer]).num_rows == 0


def test_null_key_is_rejected_naming_column_and_row(any_store: AnyStore) -> None:
    rows = [journey_row("n-1", "a"), journey_row("n-1", "b")]
    table = journeys_table(rows)
    keys = pa.array(["n-1", None], pa.string())
    schema = table.schema.set(0, pa.field("customer_id", pa.string()))
    table = pa.Table.from_arrays([keys, *table.columns[1:]], schema=schema)
    with (
        any_store.client("writer") as writer,
        pytest.raises(StoreInvalidRequest, match="column 'customer_id', row 1"),
    ):
        writer.upsert(table)


def test_tls_works_end_to_end(store_server_factory: Factory) -> None:
    with store_server_factory(tls=True, name="store-tls") as server:
        assert server.url.startswith("grpc+tls://")
        customer = "tls-customer"
        with server.client("writer") as writer, server.client("reader") as reader:
            writer.upsert(journeys_table([journey_row(customer, "j-1")]))
            assert reader.lookup([customer])["journey_id"].to_pylist() == ["j-1"]
        # Without the server's certificate as root, the handshake fails.
        untrusted = StoreClient(server.url, server.tokens["reader"], timeout=2.0)
        with untrusted, pytest.raises(StoreUnavailable):
            untrusted.lookup([customer])


def test_kill_9_after_an_acknowledged_upsert_loses_nothing(
    backend: str, any_store_factory: AnyFactory
) -> None:
    rows = [journey_row(f"durable-{i}", f"j-{k}") for i in range(200) for k in range(3)]
    if backend == "duckdb":
        found, stats = _duckdb_crash_and_restart(any_store_factory, rows)
    else:
        found, stats = _postgres_crash_and_restart(any_store_factory, rows)
    assert found.num_rows == len(rows)
    assert stats.rows_open == len(rows)
    first = found.filter(pc.equal(found["customer_id"], "durable-0"))
    assert first.filter(pc.equal(first["journey_id"], "j-0"))["step"].to_pylist() == [7]


def _write_then_crash(server: AnyStore, rows: list[dict[str, object]]) -> None:
    with server.client("writer") as writer:
        assert writer.upsert(journeys_table(rows)) == len(rows)
        writer.upsert(journeys_table([journey_row("durable-0", "j-0", step=7)]))
    server.process.kill()  # SIGKILL: no checkpoint, no clean close


def _duckdb_crash_and_restart(
    factory: AnyFactory, rows: list[dict[str, object]]
) -> tuple[pa.Table, StoreStats]:
    with factory(name="store-crash") as server:
        assert isinstance(server, StoreServer)
        db_path, tokens = server.db_path, server.tokens
        _write_then_crash(server, rows)
    # The rows are only in the write-ahead log: the restart must replay it.
    assert db_path.with_name(db_path.name + ".wal").stat().st_size > 0
    restarted = factory(db_path=db_path, tokens=tokens, name="store-restarted")
    with restarted as again, again.client("reader") as reader:
        return reader.lookup([f"durable-{i}" for i in range(200)]), reader.stats()


def _postgres_crash_and_restart(
    factory: AnyFactory, rows: list[dict[str, object]]
) -> tuple[pa.Table, StoreStats]:
    # A private cluster with fsync on (the session cluster runs with fsync off).
    with factory(durable=True) as server:
        assert isinstance(server, PostgresStoreServer)
        _write_then_crash(server, rows)
        # Crash recovery replays the WAL on the same data directory.
        server.cluster.start()
        with server.client("reader") as reader:
            return reader.lookup([f"durable-{i}" for i in range(200)]), reader.stats()


def test_stats_counts_rows_by_status_and_reports_version(any_store_factory: AnyFactory) -> None:
    with any_store_factory(name="store-stats") as server:
        rows = [journey_row("s-1", "a"), journey_row("s-1", "b", status="closed")]
        with server.client("writer") as writer:
            writer.upsert(journeys_table(rows))
            stats = writer.stats()
    assert (stats.rows_open, stats.rows_closed) == (1, 1)
    assert stats.db_bytes > 0
    assert stats.version


def test_the_clock_floor_survives_a_restart_after_the_newest_rows_were_purged(
    store_server_factory: Factory,
) -> None:
    rows = [journey_row("floor-1", "j-1", status="closed")]
    with store_server_factory(name="store-floor") as server:
        db_path, tokens = server.db_path, server.tokens
        with server.client("writer") as writer:
            writer.upsert(journeys_table(rows))
        with server.client("offloader") as offloader:
            scan = offloader.scan()
            assert scan.read_all().num_rows == 1
            assert (
                offloader.purge(closed_before=scan.snapshot_at, snapshot_at=scan.snapshot_at) == 1
            )
        server.process.kill()  # no clean close: the floor must already be in the log
    restarted = store_server_factory(db_path=db_path, tokens=tokens, name="store-floor-again")
    with restarted as again, again.client("admin") as admin:
        floor_us = admin.health()["clock_floor_us"]
    # The table is empty, so max(updated_at) says nothing: the persisted snapshot point does.
    assert floor_us >= scan.snapshot_at_us


def test_an_unknown_status_filter_is_refused_by_client_and_server(
    store_server: StoreServer,
) -> None:
    with store_server.client("reader") as reader:
        with pytest.raises(StoreInvalidRequest, match="status must be one of open, closed, all"):
            reader.lookup(["c-1"], status="pending")
        with pytest.raises(StoreInvalidRequest, match="status must be one of open, closed, all"):
            reader.scan(status="pending")
    raw = flight.FlightClient(store_server.url)
    options = flight.FlightCallOptions(
        headers=[(b"authorization", f"Bearer {store_server.tokens['reader']}".encode())]
    )
    ticket = flight.Ticket(b'{"op": "lookup", "customer_ids": ["c-1"], "status": "pending"}')
    with pytest.raises(pa.ArrowInvalid, match="status must be one of open, closed, all"):
        raw.do_get(ticket, options).read_all()
    raw.close()
