"""Flight/Arrow exceptions are translated into the store's own errors, completely."""

from __future__ import annotations

import inspect

import pyarrow as pa
import pyarrow.flight as flight
import pytest

from store import (
    StoreError,
    StoreInternalError,
    StoreInvalidRequest,
    StoreUnauthenticated,
    StoreUnauthorized,
    StoreUnavailable,
)
from store.client import FLIGHT_ERROR_MAP, translate_error


def _library_exceptions() -> list[type[BaseException]]:
    found: set[type[BaseException]] = set()
    for module in (flight, pa.lib):
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and (
                issubclass(obj, pa.ArrowException) or issubclass(obj, flight.FlightError)
            ):
                found.add(obj)
    return sorted(found, key=lambda cls: cls.__name__)


@pytest.mark.parametrize("cls", _library_exceptions(), ids=lambda cls: cls.__name__)
def test_every_flight_and_arrow_exception_has_an_explicit_mapping(
    cls: type[BaseException],
) -> None:
    assert cls in FLIGHT_ERROR_MAP, f"{cls.__name__} is not mapped"
    assert issubclass(FLIGHT_ERROR_MAP[cls], StoreError)


@pytest.mark.parametrize(
    ("exc", "expected", "retriable"),
    [
        (flight.FlightUnavailableError("down"), StoreUnavailable, True),
        (flight.FlightTimedOutError("slow"), StoreUnavailable, True),
        (flight.FlightUnauthenticatedError("who"), StoreUnauthenticated, False),
        (flight.FlightUnauthorizedError("no"), StoreUnauthorized, False),
        (pa.ArrowInvalid("column 'x', row 1: bad"), StoreInvalidRequest, False),
        (flight.FlightWriteSizeExceededError("big", 1, 2), StoreInvalidRequest, False),
        (flight.FlightInternalError("oops"), StoreInternalError, False),
        (flight.FlightServerError("oops"), StoreInternalError, False),
    ],
)
def test_translation_picks_the_right_class_and_retriable_flag(
    exc: BaseException, expected: type[StoreError], retriable: bool
) -> None:
    error = translate_error(exc)
    assert type(error) is expected
    assert error.retriable is retriable


def test_translation_strips_flight_detail_and_server_traceback() -> None:
    raw = pa.ArrowInvalid("column 'x', row 1: bad. Detail: Python exception: Traceback ...")
    assert str(translate_error(raw)) == "column 'x', row 1: bad"
