"""The store server: Arrow Flight in front of one :class:`JourneyDatabase`.

The wire protocol is described in :mod:`store.protocol`. Every handler first checks
the caller's role, then does its work on its own cursor, and reports latency, rows and errors
to :class:`StoreMetrics`. Bad requests are answered with ``ArrowInvalid`` (gRPC
``INVALID_ARGUMENT``) naming the column and row; database failures with
``FlightInternalError``.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.flight as flight

from journeys import __version__
from journeys.contract import parse_status_filter
from journeys.observability.flight import TRACING_MIDDLEWARE_KEY, TraceContextMiddlewareFactory
from journeys.schema import ID_MAX_LENGTH, JOURNEY_SCHEMA, KEY_SCHEMA
from store.auth import MIDDLEWARE_KEY, BearerAuthFactory, require
from store.database import JourneyDatabase
from store.lookup_cache import LookupCache
from store.metrics import StoreMetrics
from store.protocol import (
    MAX_LOOKUP_IDS,
    ROW_COUNT_KEY,
    SNAPSHOT_AT_KEY,
    Operation,
)
from store.settings import StoreServerSettings
from store.validation import BatchRejected, validate_batch

log = logging.getLogger(__name__)


class BadRequest(ValueError):
    """The request's parameters are malformed (answered as INVALID_ARGUMENT)."""


def _request(payload: bytes) -> dict[str, Any]:
    try:
        request = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise BadRequest("request is not JSON") from exc
    if not isinstance(request, dict) or not isinstance(request.get("op"), str):
        raise BadRequest("request must be a JSON object with an 'op'")
    return request


def _operation(request: dict[str, Any], allowed: tuple[Operation, ...]) -> Operation:
    try:
        operation = Operation(request["op"])
    except ValueError:
        raise BadRequest(f"unknown operation {request['op']!r}") from None
    if operation not in allowed:
        raise BadRequest(f"operation {operation.value!r} is not served by this call")
    return operation


def _status(request: dict[str, Any]) -> str:
    status = request.get("status", "all")
    try:
        return parse_status_filter(status).value
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


def _micros(request: dict[str, Any], name: str) -> int:
    value = request.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRequest(f"'{name}' must be epoch microseconds (integer)")
    return value


def _customer_ids(request: dict[str, Any]) -> list[str]:
    ids = request.get("customer_ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise BadRequest("'customer_ids' must be a list of strings")
    if len(ids) > MAX_LOOKUP_IDS:
        raise BadRequest(f"at most {MAX_LOOKUP_IDS} customer ids per lookup")
    if any(len(i) > ID_MAX_LENGTH for i in ids):
        raise BadRequest(f"customer ids are at most {ID_MAX_LENGTH} characters")
    return ids


def _ack(rows: int) -> pa.Buffer:
    return pa.py_buffer(orjson.dumps({"rows": rows}))


class StoreFlightServer(flight.FlightServerBase):  # type: ignore[misc]
    """Serves upsert, lookup, scan, purge, stats, health and checkpoint over Flight."""

    def __init__(
        self, database: JourneyDatabase, settings: StoreServerSettings, metrics: StoreMetrics
    ) -> None:
        certificates = []
        if settings.tls_cert is not None and settings.tls_key is not None:
            certificates.append(
                flight.CertKeyPair(settings.tls_cert.read_bytes(), settings.tls_key.read_bytes())
            )
        tls = bool(certificates)
        scheme = "grpc+tls" if tls else "grpc+tcp"
        super().__init__(
            f"{scheme}://{settings.host}:{settings.port}",
            middleware={
                # One span per call, continuing the caller's traceparent header.
                TRACING_MIDDLEWARE_KEY: TraceContextMiddlewareFactory(),
                MIDDLEWARE_KEY: BearerAuthFactory(
                    settings.role_tokens(), metrics.errors.labels("unauthenticated").inc
                ),
            },
            tls_certificates=certificates,
        )
        self.database = database
        self.metrics = metrics
        self.max_attributes_bytes = settings.max_attributes_bytes
        self.location = f"{'grpc+tls' if tls else 'grpc'}://{settings.host}:{self.port}"

    @contextmanager
    def _call(self, operation: Operation) -> Iterator[None]:
        """Time the call and translate failures into Flight errors."""
        started = time.perf_counter()
        try:
            yield
        except (BatchRejected, BadRequest) as exc:
            self.metrics.errors.labels("invalid").inc()
            raise pa.ArrowInvalid(str(exc)) from exc
        except flight.FlightUnauthorizedError:
            self.metrics.errors.labels("unauthorized").inc()
            raise
        except flight.FlightUnauthenticatedError:
            self.metrics.errors.labels("unauthenticated").inc()
            raise
        except duckdb.Error as exc:
            self.metrics.errors.labels("internal").inc()
            log.exception("%s failed", operation.value)
            raise flight.FlightInternalError(f"{operation.value} failed: {exc}") from exc
        finally:
            self.metrics.latency.labels(operation.value).observe(time.perf_counter() - started)

    # -- DoGet: lookup, scan -------------------------------------------------------------
    def do_get(self, context: flight.ServerCallContext, ticket: flight.Ticket) -> Any:
        request = _request(ticket.ticket)
        operation = _operation(request, (Operation.LOOKUP, Operation.SCAN))
        if operation is Operation.SCAN:
            return self._scan(context, request)
        with self._call(operation):
            require(context, operation)
            table = self.database.lookup(_customer_ids(request), _status(request))
            self.metrics.rows.labels(operation.value).inc(table.num_rows)
            return flight.RecordBatchStream(table)

    def _scan(self, context: flight.ServerCallContext, request: dict[str, Any]) -> Any:
        with self._call(Operation.SCAN):
            require(context, Operation.SCAN)
            snapshot = self.database.snapshot(_status(request))
        schema = JOURNEY_SCHEMA.with_metadata(
            {
                **(JOURNEY_SCHEMA.metadata or {}),
                SNAPSHOT_AT_KEY: str(snapshot.snapshot_at_us).encode(),
                ROW_COUNT_KEY: str(snapshot.row_count).encode(),
            }
        )
        rows = self.metrics.rows.labels(Operation.SCAN.value)

        def stream() -> Iterator[pa.RecordBatch]:
            try:
                for batch in snapshot.batches:
                    rows.inc(batch.num_rows)
                    yield batch
            finally:
                snapshot.close()

        return flight.GeneratorStream(schema, stream())

    # -- DoPut: upsert, purge ------------------------------------------------------------
    def do_put(
        self,
        context: flight.ServerCallContext,
        descriptor: flight.FlightDescriptor,
        reader: flight.MetadataRecordBatchReader,
        writer: flight.FlightMetadataWriter,
    ) -> None:
        request = _request(descriptor.command or b"")
        operation = _operation(request, (Operation.UPSERT, Operation.PURGE))
        with self._call(operation):
            require(context, operation)
            if operation is Operation.UPSERT:
                self._upsert(reader, writer)
            else:
                self._purge(request, reader, writer)

    def _upsert(
        self, reader: flight.MetadataRecordBatchReader, writer: flight.FlightMetadataWriter
    ) -> None:
        committed = 0
        for chunk in reader:
            if chunk.data is None or chunk.data.num_rows == 0:
                continue
            try:
                table = validate_batch(chunk.data, max_attributes_bytes=self.max_attributes_bytes)
            except BatchRejected as exc:
                if not committed:
                    raise
                raise BadRequest(
                    f"{exc} ({committed} rows of earlier batches in this call were committed)"
                ) from exc
            rows = self.database.upsert(table)
            committed += rows
            self.metrics.rows.labels(Operation.UPSERT.value).inc(rows)
            writer.write(_ack(rows))

    def _purge(
        self,
        request: dict[str, Any],
        reader: flight.MetadataRecordBatchReader,
        writer: flight.FlightMetadataWriter,
    ) -> None:
        closed_before = _micros(request, "closed_before")
        snapshot_at = _micros(request, "snapshot_at")
        keys: pa.Table | None = None
        if request.get("keys"):
            keys = reader.read_all()
            for field in KEY_SCHEMA:
                if field.name not in keys.column_names:
                    raise BadRequest(f"column '{field.name}': missing in purge keys")
                if not pa.types.is_string(keys.schema.field(field.name).type):
                    raise BadRequest(f"column '{field.name}': purge keys must be strings")
                if keys.column(field.name).null_count:
                    raise BadRequest(f"column '{field.name}': null in purge keys")
        deleted = self.database.purge(
            closed_before_us=closed_before, snapshot_at_us=snapshot_at, keys=keys
        )
        self.metrics.rows.labels(Operation.PURGE.value).inc(deleted)
        writer.write(_ack(deleted))

    # -- DoAction: stats, health, checkpoint ---------------------------------------------
    def list_actions(self, context: flight.ServerCallContext) -> list[tuple[str, str]]:
        return [
            (Operation.STATS.value, "rows by status, database size, server version"),
            (Operation.HEALTH.value, "liveness and version"),
            (Operation.CHECKPOINT.value, "write the WAL into the database file (admin)"),
        ]

    def do_action(self, context: flight.ServerCallContext, action: flight.Action) -> Any:
        operation = _operation({"op": action.type}, (Operation.STATS, Operation.HEALTH,
                                                     Operation.CHECKPOINT))  # fmt: skip
        with self._call(operation):
            require(context, operation)
            body: dict[str, Any]
            if operation is Operation.STATS:
                counts = self.database.counts()
                body = {
                    "rows_open": counts.rows_open,
                    "rows_closed": counts.rows_closed,
                    "db_bytes": counts.db_bytes,
                    "version": __version__,
                }
            elif operation is Operation.HEALTH:
                body = {
                    "status": "ok",
                    "version": __version__,
                    "clock_floor_us": self.database.clock.last_us,
                }
            else:
                self.database.checkpoint()
                body = {"status": "ok"}
        return [flight.Result(pa.py_buffer(orjson.dumps(body)))]


def serve(settings: StoreServerSettings) -> None:
    """Run the store server until SIGTERM/SIGINT; the database is closed cleanly after."""
    with JourneyDatabase(
        settings.db,
        checkpoint_threshold=settings.checkpoint_threshold,
        threads=settings.threads,
        memory_limit=settings.memory_limit,
        compression=settings.compression,
        lookup_cache=LookupCache(
            settings.lookup_cache_customers, max_bytes=settings.lookup_cache_bytes
        ),
    ) as database:
        metrics = StoreMetrics(database.counts, database.lookup_cache.stats)
        server = StoreFlightServer(database, settings, metrics)
        if settings.metrics_port:
            metrics.serve(settings.metrics_port, settings.host)

        stopper = threading.Thread(target=server.shutdown, name="store-shutdown")

        def stop(signum: int, frame: object) -> None:
            # shutdown() waits for running calls, so never from the serving thread itself.
            if not stopper.is_alive() and stopper.ident is None:
                stopper.start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        log.info("store serving on %s (database %s)", server.location, settings.db)
        print(f"store serving on {server.location} (database {settings.db})", flush=True)
        server.serve()
        if stopper.ident is not None:
            stopper.join(timeout=30)
