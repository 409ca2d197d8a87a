"""The journey store: one interface, two backends, its clients and loaders.

Backends, chosen by the store URL's scheme (docs/store-backends.md): ``grpc://`` /
``grpc+tls://`` = a DuckDB database served over Arrow Flight (the embedded default);
``postgresql://`` = PostgreSQL (optional extra ``postgres``).

Public API (other packages import only from here)::

    JourneyStore, AsyncJourneyStore                     the interface every backend offers
    open_store, open_async_store, StoreClientSettings   a client for a store URL (any backend)
    init_store                                          create/migrate a store's schema
    StoreClient, AsyncStoreClient                       the Flight client and the async wrapper
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
from store.factory import open_async_store, open_store
from store.interface import AsyncJourneyStore, JourneyStore
from store.loader import LoaderError, load_files
from store.protocol import Role
from store.settings import StoreClientSettings, StoreServerSettings

if TYPE_CHECKING:
    from store.settings import StoreServerSettings as _ServerSettings


def init_store(url: str, token: str, *, partitions: int | None = None) -> list[int]:
    """Create or migrate the store's schema at ``url``; returns the migrations applied now.

    PostgreSQL: the table (hash-partitioned into ``partitions``), roles and grants, with
    ``token`` as the password of the URL's (owner) role. The Flight store server creates its
    own schema when it starts, so there it only checks that the server answers (``[]``).
    """
    from store.factory import POSTGRES_SCHEMES, check_url

    check_url(url)
    if not url.startswith(POSTGRES_SCHEMES):
        with open_store(url, token) as client:
            client.health()
        return []
    from store.postgres.connections import build_conninfo
    from store.postgres.errors import translated
    from store.postgres.schema import DEFAULT_PARTITIONS, init_database

    with translated():
        return init_database(build_conninfo(url, token), partitions or DEFAULT_PARTITIONS)


def set_role_passwords(url: str, token: str, passwords: dict[str, str]) -> None:
    """Let the store's reader/writer/offloader roles log in with these passwords.

    PostgreSQL only (local stacks and tests; production creates its own login roles).
    """
    from store.postgres.connections import build_conninfo
    from store.postgres.errors import translated
    from store.postgres.schema import set_login_passwords

    with translated():
        set_login_passwords(build_conninfo(url, token), passwords)


def serve(settings: _ServerSettings) -> None:
    """Run the store server until SIGTERM/SIGINT (DuckDB is imported only by the server)."""
    from store.server import serve as run_server

    run_server(settings)


__all__ = [
    "AsyncJourneyStore",
    "AsyncStoreClient",
    "JourneyStore",
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
    "init_store",
    "load_files",
    "open_async_store",
    "open_store",
    "serve",
    "set_role_passwords",
]
