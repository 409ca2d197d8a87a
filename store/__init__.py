"""The journey store: a DuckDB database served over Arrow Flight, its clients and loaders.

Public API (other packages import only from here)::

    StoreClient, AsyncStoreClient, StoreClientSettings   talk to the store server
    ScanResult, StoreStats                              what scan() and stats() return
    StoreServerSettings                                 the server process's settings
    StoreError and subclasses                           errors (see errors.py)
    generate_journeys                                   deterministic demo data
    load_files, LoaderError                             the campaigns system's files into the store
    serve                                               run the store server (imports DuckDB lazily)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from store.async_client import AsyncStoreClient
from store.client import ScanResult, StoreClient, StoreStats
from store.demo_data import generate_journeys
from store.errors import (
    StoreError,
    StoreInternalError,
    StoreInvalidRequest,
    StoreUnauthenticated,
    StoreUnauthorized,
    StoreUnavailable,
)
from store.loader import LoaderError, load_files
from store.protocol import Role
from store.settings import StoreClientSettings, StoreServerSettings

if TYPE_CHECKING:
    from store.settings import StoreServerSettings as _ServerSettings


def serve(settings: _ServerSettings) -> None:
    """Run the store server until SIGTERM/SIGINT (DuckDB is imported only by the server)."""
    from store.server import serve as run_server

    run_server(settings)


__all__ = [
    "AsyncStoreClient",
    "LoaderError",
    "Role",
    "ScanResult",
    "StoreClient",
    "StoreClientSettings",
    "StoreError",
    "StoreInternalError",
    "StoreInvalidRequest",
    "StoreServerSettings",
    "StoreStats",
    "StoreUnauthenticated",
    "StoreUnauthorized",
    "StoreUnavailable",
    "generate_journeys",
    "load_files",
    "serve",
]
