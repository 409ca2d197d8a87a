"""psycopg exceptions → the store's own errors (:mod:`store.errors`), at the boundary.

:data:`PSYCOPG_ERROR_MAP` is looked up along the exception's MRO, so the most specific entry
wins (``InvalidPassword`` before ``OperationalError``); a unit test checks that every psycopg
class the backend relies on lands on the intended store error. Messages never carry the
connection string (psycopg does not put passwords in its messages).

ADBC's errors (bulk transfer, :mod:`.bulk`) carry the server's SQLSTATE:
:func:`translate_adbc_error` looks up psycopg's class for it and maps that, so both drivers
land on the same store error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

import adbc_driver_manager
import psycopg
from psycopg import errors as pg

from store.errors import (
    StoreError,
    StoreInternalError,
    StoreInvalidRequest,
    StoreUnauthenticated,
    StoreUnauthorized,
    StoreUnavailable,
)

PSYCOPG_ERROR_MAP: Final[dict[type[BaseException], type[StoreError]]] = {
    # Who you are / what you may do.
    pg.InvalidPassword: StoreUnauthenticated,
    pg.InvalidAuthorizationSpecification: StoreUnauthenticated,
    pg.InsufficientPrivilege: StoreUnauthorized,
    # The server is down, restarting, read-only (a standby), overloaded or too slow.
    pg.ConnectionException: StoreUnavailable,
    pg.AdminShutdown: StoreUnavailable,
    pg.CrashShutdown: StoreUnavailable,
    pg.CannotConnectNow: StoreUnavailable,
    pg.QueryCanceled: StoreUnavailable,
    pg.ReadOnlySqlTransaction: StoreUnavailable,
    pg.InsufficientResources: StoreUnavailable,
    pg.SerializationFailure: StoreUnavailable,
    pg.DeadlockDetected: StoreUnavailable,
    pg.LockNotAvailable: StoreUnavailable,
    psycopg.OperationalError: StoreUnavailable,
    psycopg.InterfaceError: StoreUnavailable,
    # The data does not fit the table (validation normally catches it first).
    psycopg.IntegrityError: StoreInvalidRequest,
    psycopg.DataError: StoreInvalidRequest,
    # Anything else is the store's fault.
    pg.UndefinedTable: StoreInternalError,
    psycopg.ProgrammingError: StoreInternalError,
    psycopg.InternalError: StoreInternalError,
    psycopg.NotSupportedError: StoreInternalError,
    psycopg.DatabaseError: StoreInternalError,
    psycopg.Error: StoreInternalError,
}

#: libpq reports these at connect time without an SQLSTATE.
_AUTH_FAILURE_TEXT: Final = ("password authentication failed", "no password supplied")


def _message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def translate_error(exc: BaseException) -> StoreError:
    """The store error for a psycopg exception (StoreInternalError if unknown)."""
    message = _message(exc)
    if isinstance(exc, pg.UndefinedTable):
        return StoreInternalError(f"{message} (is the database initialised? journeys store init)")
    unexplained = isinstance(exc, psycopg.OperationalError) and exc.sqlstate is None
    if unexplained and any(text in str(exc) for text in _AUTH_FAILURE_TEXT):
        return StoreUnauthenticated(message)
    for cls in type(exc).__mro__:
        target = PSYCOPG_ERROR_MAP.get(cls)
        if target is not None:
            return target(message)
    return StoreInternalError(message)


def translate_adbc_error(exc: adbc_driver_manager.Error) -> StoreError:
    """The store error for an ADBC exception: by its SQLSTATE, as for psycopg."""
    message = _message(exc)
    if exc.sqlstate:
        try:
            cls = pg.lookup(exc.sqlstate)
        except KeyError:
            cls = None
        if cls is not None:
            return translate_error(cls(message))
    if isinstance(exc, adbc_driver_manager.OperationalError):
        if any(text in str(exc) for text in _AUTH_FAILURE_TEXT):
            return StoreUnauthenticated(message)
        return StoreUnavailable(message)
    if isinstance(exc, adbc_driver_manager.IntegrityError | adbc_driver_manager.DataError):
        return StoreInvalidRequest(message)
    return StoreInternalError(message)


@contextmanager
def translated() -> Iterator[None]:
    """Re-raise psycopg and ADBC exceptions as store errors."""
    try:
        yield
    except StoreError:
        raise
    except psycopg.Error as exc:
        raise translate_error(exc) from exc
    except adbc_driver_manager.Error as exc:
        raise translate_adbc_error(exc) from exc
