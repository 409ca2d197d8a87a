"""psycopg → store errors: every psycopg class the PostgreSQL backend relies on is mapped."""

from __future__ import annotations

import adbc_driver_manager
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
from store.postgres.errors import PSYCOPG_ERROR_MAP, translate_adbc_error, translate_error

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


def _adbc(
    cls: type[adbc_driver_manager.Error], message: str, sqlstate: str | None
) -> adbc_driver_manager.Error:
    return cls(message, status_code=adbc_driver_manager.AdbcStatusCode.UNKNOWN, sqlstate=sqlstate)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (_adbc(adbc_driver_manager.ProgrammingError, "denied", "42501"), StoreUnauthorized),
        (
            _adbc(adbc_driver_manager.OperationalError, "bad password", "28P01"),
            StoreUnauthenticated,
        ),
        (_adbc(adbc_driver_manager.OperationalError, "timeout", "57014"), StoreUnavailable),
        (_adbc(adbc_driver_manager.OperationalError, "read only", "25006"), StoreUnavailable),
        (_adbc(adbc_driver_manager.IntegrityError, "check violated", "23514"), StoreInvalidRequest),
        (
            _adbc(adbc_driver_manager.OperationalError, "IO: connection refused", None),
            StoreUnavailable,
        ),
        (
            _adbc(adbc_driver_manager.OperationalError, "password authentication failed", None),
            StoreUnauthenticated,
        ),
        (_adbc(adbc_driver_manager.InternalError, "driver bug", None), StoreInternalError),
    ],
)
def test_adbc_errors_land_on_the_same_store_errors_by_sqlstate(
    error: adbc_driver_manager.Error, expected: type[StoreError]
) -> None:
    translated = translate_adbc_error(error)
    assert type(translated) is expected
    assert str(error).splitlines()[0] in str(translated)


def test_an_adbc_missing_table_says_to_initialise_the_store() -> None:
    error = _adbc(
        adbc_driver_manager.ProgrammingError, 'relation "journeys" does not exist', "42P01"
    )
    translated = translate_adbc_error(error)
    assert isinstance(translated, StoreInternalError)
    assert "journeys store init" in str(translated)
