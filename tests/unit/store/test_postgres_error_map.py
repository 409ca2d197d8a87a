"""psycopg → store errors: every psycopg class the PostgreSQL backend relies on is mapped."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors as pg

from store.errors import (
    StoreError,
    StoreInternalError,
    StoreInvalidRequest,
    StoreUnauthenticated,
    StoreUnauthorized,
    StoreUnavailable,
)
from store.postgres.errors import PSYCOPG_ERROR_MAP, translate_error

#: What callers must see for each failure the backend can meet.
EXPECTED: dict[type[psycopg.Error], type[StoreError]] = {
    pg.InvalidPassword: StoreUnauthenticated,  # wrong password (28P01)
    pg.InvalidAuthorizationSpecification: StoreUnauthenticated,  # no such role / pg_hba (28000)
    pg.InsufficientPrivilege: StoreUnauthorized,  # the role's grants forbid it (42501)
    pg.AdminShutdown: StoreUnavailable,  # server shutting down (57P01)
    pg.CrashShutdown: StoreUnavailable,
    pg.CannotConnectNow: StoreUnavailable,  # starting up / recovering (57P03)
    pg.QueryCanceled: StoreUnavailable,  # statement_timeout (57014)
    pg.ReadOnlySqlTransaction: StoreUnavailable,  # a write reached a standby (25006)
    pg.TooManyConnections: StoreUnavailable,  # (53300)
    pg.SerializationFailure: StoreUnavailable,
    pg.DeadlockDetected: StoreUnavailable,
    pg.ConnectionFailure: StoreUnavailable,
    psycopg.OperationalError: StoreUnavailable,  # refused / reset / timed out connecting
    psycopg.InterfaceError: StoreUnavailable,  # the connection is closed
    pg.CheckViolation: StoreInvalidRequest,
    pg.NotNullViolation: StoreInvalidRequest,
    pg.InvalidTextRepresentation: StoreInvalidRequest,
    pg.UndefinedTable: StoreInternalError,  # not initialised
    pg.SyntaxError: StoreInternalError,
    psycopg.Error: StoreInternalError,
}


@pytest.mark.parametrize("cls", list(EXPECTED), ids=lambda cls: cls.__name__)
def test_each_psycopg_error_becomes_the_intended_store_error(cls: type[psycopg.Error]) -> None:
    translated = translate_error(cls("boom"))
    assert type(translated) is EXPECTED[cls]
    assert "boom" in str(translated)


def test_every_mapped_class_is_a_psycopg_error_and_the_base_class_is_covered() -> None:
    assert all(issubclass(cls, psycopg.Error) for cls in PSYCOPG_ERROR_MAP)
    assert psycopg.Error in PSYCOPG_ERROR_MAP
    assert psycopg.DatabaseError in PSYCOPG_ERROR_MAP


@pytest.mark.parametrize(
    "message",
    [
        'connection to server at "127.0.0.1", port 5 failed: FATAL:  password authentication '
        'failed for user "journeys_reader"',
        'connection to server at "127.0.0.1", port 5 failed: fe_sendauth: no password supplied',
    ],
)
def test_connect_time_auth_failures_without_sqlstate_are_unauthenticated(message: str) -> None:
    assert isinstance(translate_error(psycopg.OperationalError(message)), StoreUnauthenticated)


def test_a_refused_connection_is_unavailable_and_retriable() -> None:
    error = translate_error(psycopg.OperationalError("connection refused"))
    assert isinstance(error, StoreUnavailable)
    assert error.retriable
