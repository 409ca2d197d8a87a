"""The journey store: a DuckDB database served over Arrow Flight, its clients and loaders.

Public API (other packages import only from here)::

    StoreClient, AsyncStoreClient, StoreClientSettings   talk to the store server
    ScanResult, StoreStats                              what scan() and stats() return
    StoreServerSettings                                 the server process's settings
    StoreError and subclasses                           errors (see errors.py)
    generate_journeys                                   deterministic demo data
"""

from journeys.store.async_client import AsyncStoreClient
from journeys.store.client import ScanResult, StoreClient, StoreStats
from journeys.store.demo_data import generate_journeys
from journeys.store.errors import (
    StoreError,
    StoreInternalError,
    StoreInvalidRequest,
    StoreUnauthenticated,
    StoreUnauthorized,
    StoreUnavailable,
)
from journeys.store.protocol import Role
from journeys.store.settings import StoreClientSettings, StoreServerSettings

__all__ = [
    "AsyncStoreClient",
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
]
