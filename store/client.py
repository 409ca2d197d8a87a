"""``StoreClient``: the one way other processes talk to the store server (Arrow Flight).

One Flight connection per client, reused by every call and safe to share between threads.
Each call carries the bearer token and a timeout: ``timeout`` for lookups, stats and health;
``bulk_timeout`` for upserts, scans and purges, which move or delete many rows. Flight and
Arrow exceptions are translated here, at the boundary, into :mod:`store.errors`
(:data:`FLIGHT_ERROR_MAP`, with a test that it is complete).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Final

import orjson
import pyarrow as pa
import pyarrow.flight as flight

from journeys.contract import parse_status_filter
from journeys.observability import flight_trace_headers
from journeys.schema import JOURNEY_SCHEMA, KEY_SCHEMA
from store.errors import (
    StoreError,
    StoreInternalError,
    StoreInvalidRequest,
    StoreUnauthenticated,
    StoreUnauthorized,
    StoreUnavailable,
)
from store.protocol import ROW_COUNT_KEY, SNAPSHOT_AT_KEY, Operation

#: Rows per upsert batch on the wire; the server commits each batch in one transaction.
UPSERT_BATCH_ROWS: Final = 100_000
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

#: Flight/Arrow exception → store error. Looked up along the exception's MRO, so the most
#: specific entry wins (FlightWriteSizeExceededError is also an ArrowInvalid).
FLIGHT_ERROR_MAP: Final[dict[type[BaseException], type[StoreError]]] = {
    flight.FlightUnavailableError: StoreUnavailable,
    flight.FlightTimedOutError: StoreUnavailable,
    flight.FlightCancelledError: StoreUnavailable,
    flight.FlightUnauthenticatedError: StoreUnauthenticated,
    flight.FlightUnauthorizedError: StoreUnauthorized,
    flight.FlightWriteSizeExceededError: StoreInvalidRequest,
    flight.FlightInternalError: StoreInternalError,
    flight.FlightServerError: StoreInternalError,
    flight.FlightError: StoreInternalError,
    pa.ArrowInvalid: StoreInvalidRequest,
    pa.ArrowTypeError: StoreInvalidRequest,
    pa.ArrowKeyError: StoreInvalidRequest,
    pa.ArrowIndexError: StoreInvalidRequest,
    pa.ArrowCapacityError: StoreInvalidRequest,
    pa.ArrowIOError: StoreUnavailable,
    pa.ArrowMemoryError: StoreInternalError,
    pa.ArrowNotImplementedError: StoreInternalError,
    pa.ArrowSerializationError: StoreInternalError,
    pa.ArrowCancelled: StoreUnavailable,
    pa.ArrowException: StoreInternalError,
}


def _server_message(exc: BaseException) -> str:
    # Flight appends ". Detail: ..." (and the server's traceback for Python errors).
    return str(exc).split(". Detail:", 1)[0].split(". gRPC client debug context:", 1)[0]


def translate_error(exc: BaseException) -> StoreError:
    """The store error for a Flight/Arrow exception (StoreInternalError if unknown)."""
    for cls in type(exc).__mro__:
        target = FLIGHT_ERROR_MAP.get(cls)
        if target is not None:
            return target(_server_message(exc))
    return StoreInternalError(_server_message(exc))


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except StoreError:
        raise
    except (flight.FlightError, pa.ArrowException) as exc:
        raise translate_error(exc) from exc


def _checked_status(status: str) -> None:
    try:
        parse_status_filter(status)
    except ValueError as exc:
        raise StoreInvalidRequest(str(exc)) from None


def to_micros(moment: datetime) -> int:
    """Epoch microseconds of a timezone-aware datetime."""
    if moment.tzinfo is None:
        raise StoreInvalidRequest("timestamps must be timezone-aware (UTC)")
    return (moment - _EPOCH) // timedelta(microseconds=1)


def from_micros(micros: int) -> datetime:
    """A UTC datetime from epoch microseconds."""
    return _EPOCH + timedelta(microseconds=micros)


@dataclass(frozen=True)
class StoreStats:
    """Row counts by status, database size (bytes, with WAL) and server version."""

    rows_open: int
    rows_closed: int
    db_bytes: int
    version: str


class ScanResult:
    """One consistent snapshot of the table, streamed as record batches.

    ``snapshot_at`` and ``row_count`` come from the same server transaction as the rows:
    every row with ``updated_at <= snapshot_at`` is in it, and it has ``row_count`` rows.
    """

    def __init__(self, snapshot_at_us: int, row_count: int, batches: Iterator[pa.RecordBatch]):
        self.snapshot_at_us = snapshot_at_us
        self.snapshot_at = from_micros(snapshot_at_us)
        self.row_count = row_count
        self.schema: pa.Schema = JOURNEY_SCHEMA
        self._batches = batches

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        with _translated():
            for batch in self._batches:
                yield batch.replace_schema_metadata(JOURNEY_SCHEMA.metadata)

    def read_all(self) -> pa.Table:
        """Every remaining batch as one table of JOURNEY_SCHEMA."""
        return pa.Table.from_batches(list(self), schema=JOURNEY_SCHEMA)


#: gRPC channel options: retry a lost server every 100-500 ms instead of backing off to 120 s.
_RECONNECT_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
)


class StoreClient:
    """A connection to the store server, authenticated with one bearer token."""

    def __init__(
        self,
        location: str,
        token: str,
        *,
        timeout: float = 5.0,
        tls_root_certs: bytes | None = None,
        bulk_timeout: float = 600.0,
    ) -> None:
        self.location = location
        self.timeout = timeout
        self.bulk_timeout = bulk_timeout
        self._headers = [(b"authorization", f"Bearer {token}".encode())]
        # gRPC's reconnect backoff grows to 120 s by default: after a store restart the
        # responder would stay unavailable for seconds after the store is back. Cap it.
        kwargs: dict[str, Any] = {"generic_options": list(_RECONNECT_OPTIONS)}
        if tls_root_certs is not None:
            kwargs["tls_root_certs"] = tls_root_certs
        with _translated():
            self._client = flight.FlightClient(location, **kwargs)

    def _options(self, timeout: float) -> flight.FlightCallOptions:
        # The caller's trace goes along (``traceparent``) so the server's span continues it.
        headers = self._headers + flight_trace_headers()
        return flight.FlightCallOptions(timeout=timeout, headers=headers)

    # -- writes --------------------------------------------------------------------------
    def _put(self, command: dict[str, Any], schema: pa.Schema, table: pa.Table | None) -> int:
        descriptor = flight.FlightDescriptor.for_command(orjson.dumps(command))
        with _translated():
            writer, acks = self._client.do_put(descriptor, schema, self._options(self.bulk_timeout))
            try:
                if table is not None:
                    writer.write_table(table, max_chunksize=UPSERT_BATCH_ROWS)
                writer.done_writing()
                total = 0
                while (ack := acks.read()) is not None:
                    total += int(orjson.loads(ack.to_pybytes())["rows"])
            except (flight.FlightError, pa.ArrowException) as exc:
                # A failed write often only says "stream closed"; close() raises the
                # server's real error.
                try:
                    writer.close()
                except (flight.FlightError, pa.ArrowException) as real:
                    raise translate_error(real) from real
                raise translate_error(exc) from exc
            writer.close()
            return total

    def upsert(self, data: pa.Table | pa.RecordBatch) -> int:
        """Insert or replace rows by primary key; returns the rows written.

        Each batch of up to :data:`UPSERT_BATCH_ROWS` rows is validated and committed
        atomically; a bad batch is rejected whole (StoreInvalidRequest naming column and row).
        The server stamps ``updated_at``; the column may be left out.
        """
        table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
        if table.num_rows == 0:
            return 0
        return self._put({"op": Operation.UPSERT.value}, table.schema, table)

    def purge(
        self, *, closed_before: datetime, snapshot_at: datetime, keys: pa.Table | None = None
    ) -> int:
        """Delete closed rows with ``closed_at <= closed_before`` and ``updated_at <= snapshot_at``.

        With ``keys`` (a table with KEY_SCHEMA columns) only those primary keys are deleted.
        Returns the number of rows deleted.
        """
        command = {
            "op": Operation.PURGE.value,
            "closed_before": to_micros(closed_before),
            "snapshot_at": to_micros(snapshot_at),
            "keys": keys is not None,
        }
        payload = None
        if keys is not None:
            try:
                payload = keys.select(list(KEY_SCHEMA.names))
            except KeyError as exc:
                raise StoreInvalidRequest(f"purge keys need columns {KEY_SCHEMA.names}") from exc
        return self._put(command, payload.schema if payload else KEY_SCHEMA, payload)

    # -- reads ---------------------------------------------------------------------------
    def lookup(self, customer_ids: Sequence[str], status: str = "all") -> pa.Table:
        """All journeys of these customers (JOURNEY_SCHEMA), by customer and priority."""
        _checked_status(status)
        ticket = orjson.dumps(
            {"op": Operation.LOOKUP.value, "customer_ids": list(customer_ids), "status": status}
        )
        with _translated():
            reader = self._client.do_get(flight.Ticket(ticket), self._options(self.timeout))
            table: pa.Table = reader.read_all()
        return table

    def scan(self, status: str = "all") -> ScanResult:
        """A consistent snapshot of all (or only open/closed) rows, streamed."""
        _checked_status(status)
        ticket = orjson.dumps({"op": Operation.SCAN.value, "status": status})
        with _translated():
            reader = self._client.do_get(flight.Ticket(ticket), self._options(self.bulk_timeout))
            metadata = reader.schema.metadata or {}
        try:
            snapshot_at = int(metadata[SNAPSHOT_AT_KEY])
            row_count = int(metadata[ROW_COUNT_KEY])
        except (KeyError, ValueError) as exc:
            raise StoreInternalError("scan stream has no snapshot metadata") from exc

        def batches() -> Iterator[pa.RecordBatch]:
            for chunk in reader:
                yield chunk.data

        return ScanResult(snapshot_at, row_count, batches())

    def _action(self, operation: Operation) -> dict[str, Any]:
        with _translated():
            results = list(
                self._client.do_action(
                    flight.Action(operation.value, b""), self._options(self.timeout)
                )
            )
        body: dict[str, Any] = orjson.loads(results[0].body.to_pybytes())
        return body

    def stats(self) -> StoreStats:
        """Row counts by status, database size and server version."""
        body = self._action(Operation.STATS)
        return StoreStats(
            rows_open=int(body["rows_open"]),
            rows_closed=int(body["rows_closed"]),
            db_bytes=int(body["db_bytes"]),
            version=str(body["version"]),
        )

    def health(self) -> dict[str, Any]:
        """``{"status": "ok", "version": ...}`` when the server answers."""
        return self._action(Operation.HEALTH)

    def checkpoint(self) -> None:
        """Write the WAL into the database file (admin token)."""
        self._action(Operation.CHECKPOINT)

    # -- lifecycle -----------------------------------------------------------------------
    def close(self) -> None:
        """Close the Flight connection."""
        self._client.close()

    def __enter__(self) -> StoreClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
