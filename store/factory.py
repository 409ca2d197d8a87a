"""One way to open the store: :func:`open_store` / :func:`open_async_store` by URL scheme.

=========================== ================================================================
scheme                      backend
=========================== ================================================================
``grpc://``, ``grpc+tcp://`` the DuckDB store server over Arrow Flight (``token``: bearer)
``grpc+tls://``             the same over TLS (``tls_root_certs``: the CA)
``postgresql://``,          PostgreSQL (``token``: the login role's password unless the URL
``postgres://``             or libpq's environment/``PGPASSFILE`` gives one; TLS by
                            ``sslmode``/``sslrootcert`` in the URL; ``read_urls``: hot standbys)
=========================== ================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from store.async_client import AsyncStoreClient
from store.errors import StoreInvalidRequest
from store.interface import JourneyStore

FLIGHT_SCHEMES: Final = ("grpc://", "grpc+tcp://", "grpc+tls://")
POSTGRES_SCHEMES: Final = ("postgresql://", "postgres://")


def check_url(url: str) -> str:
    """``url`` if its scheme names a backend; ValueError otherwise."""
    if not url.startswith((*FLIGHT_SCHEMES, *POSTGRES_SCHEMES)):
        raise ValueError(
            "store url must start with grpc://, grpc+tcp://, grpc+tls:// or postgresql://"
        )
    return url


def open_store(
    url: str,
    token: str,
    *,
    timeout: float = 5.0,
    bulk_timeout: float = 600.0,
    tls_root_certs: bytes | None = None,
    read_urls: Sequence[str] = (),
) -> JourneyStore:
    """A store client for ``url`` (the caller closes it)."""
    check_url(url)
    if url.startswith(POSTGRES_SCHEMES):
        try:
            from store.postgres.client import PostgresStore
        except ImportError as exc:  # the optional extra is not installed
            raise StoreInvalidRequest(
                "postgresql:// store urls need the 'postgres' extra "
                "(psycopg, adbc-driver-postgresql)"
            ) from exc
        for reader in read_urls:
            if not reader.startswith(POSTGRES_SCHEMES):
                raise ValueError("read urls of a PostgreSQL store must be postgresql:// urls")
        return PostgresStore(
            url, token, timeout=timeout, bulk_timeout=bulk_timeout, read_urls=read_urls
        )
    if read_urls:
        raise ValueError("read urls are only supported for postgresql:// stores")
    from store.client import StoreClient

    return StoreClient(
        url, token, timeout=timeout, bulk_timeout=bulk_timeout, tls_root_certs=tls_root_certs
    )


def open_async_store(
    url: str,
    token: str,
    *,
    timeout: float = 5.0,
    tls_root_certs: bytes | None = None,
    read_urls: Sequence[str] = (),
    max_workers: int = 4,
    read_attempt_timeout: float = 0.5,
    max_replay_lag: float = 5.0,
) -> AsyncStoreClient:
    """An :class:`AsyncStoreClient` for ``url``: the blocking client's calls on a bounded
    worker pool, so the event loop never blocks (the caller closes it with ``aclose``).

    On PostgreSQL, lookups are native coroutines instead (``psycopg.AsyncConnection``), and
    ``read_attempt_timeout`` and ``max_replay_lag`` bound what a bad standby costs
    (:mod:`store.postgres.async_lookups`).
    """
    client = open_store(
        url, token, timeout=timeout, tls_root_certs=tls_root_certs, read_urls=read_urls
    )
    if url.startswith(POSTGRES_SCHEMES):  # open_store imported the extra already
        from store.postgres.async_lookups import PostgresAsyncStore
        from store.postgres.client import PostgresStore

        if isinstance(client, PostgresStore):
            return PostgresAsyncStore(
                client,
                max_workers=max_workers,
                read_attempt_timeout=read_attempt_timeout,
                max_replay_lag=max_replay_lag,
            )
    return AsyncStoreClient(client, max_workers=max_workers)
