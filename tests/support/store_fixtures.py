"""Fixtures: the real store server process.

``store_server`` (session) is one ``journeys store serve`` on a free 127.0.0.1 port with a
fresh token per role; tests isolate themselves by unique customer ids (:func:`unique_prefix`).
``store_server_factory`` starts private servers for tests that kill or restart them, or need
TLS. Every server is stopped by the fixture that started it, even when a test fails.

``any_store`` / ``any_store_factory`` are parametrized over the backends (``[duckdb]``: the
store server above; ``[postgres]``: a private PostgreSQL cluster, tests.support.postgres_fixtures),
so one behaviour suite runs on both.
"""

from __future__ import annotations

import secrets
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from store import StoreClient, StoreError
from store.protocol import Role
from tests.support.postgres_fixtures import (
    PostgresStoreServer,
    postgres_cluster,
    postgres_store,
    postgres_store_factory,
    postgres_tokens,
)
from tests.support.processes import ChildProcess, free_port, journeys_command

ROLES = tuple(role.value for role in Role)


def make_tokens() -> dict[str, str]:
    """A fresh random token per role."""
    return {role: f"{role}-{secrets.token_urlsafe(24)}" for role in ROLES}


def unique_prefix() -> str:
    """A customer-id prefix no other test uses (ids must match the schema's pattern)."""
    return f"t{uuid.uuid4().hex[:12]}"


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate and key for 127.0.0.1/localhost (openssl CLI)."""
    cert, key = directory / "store-cert.pem", directory / "store-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@dataclass
class StoreServer:
    """A running store server process and how to reach it."""

    url: str
    tokens: dict[str, str]
    db_path: Path
    process: ChildProcess
    tls_root_cert: bytes | None = None
    env: dict[str, str] = field(default_factory=dict)

    def client(self, role: str, **kwargs: float) -> StoreClient:
        """A client with ``role``'s token (close it, or use it as a context manager)."""
        return StoreClient(self.url, self.tokens[role], tls_root_certs=self.tls_root_cert, **kwargs)

    def url_for(self, role: str) -> str:
        """The store URL for ``role`` (the same for every role: the token says who)."""
        return self.url


def _healthy(url: str, token: str, root: bytes | None) -> bool:
    try:
        with StoreClient(url, token, timeout=1.0, tls_root_certs=root) as client:
            client.health()
        return True
    except StoreError:
        return False


@contextmanager
def running_store(
    directory: Path,
    *,
    db_path: Path | None = None,
    tokens: dict[str, str] | None = None,
    tls: bool = False,
    name: str = "store",
    extra_env: dict[str, str] | None = None,
) -> Iterator[StoreServer]:
    """Start ``journeys store serve`` and stop it on exit (SIGTERM, then SIGKILL)."""
    directory.mkdir(parents=True, exist_ok=True)
    tokens = tokens or make_tokens()
    db_path = db_path or directory / f"{name}.duckdb"
    port = free_port()
    env = {f"JOURNEYS_STORE_{role.upper()}_TOKENS": token for role, token in tokens.items()}
    env.update(extra_env or {})
    root: bytes | None = None
    scheme = "grpc"
    if tls:
        cert, key = self_signed_cert(directory)
        env.update(JOURNEYS_STORE_TLS_CERT=str(cert), JOURNEYS_STORE_TLS_KEY=str(key))
        root = cert.read_bytes()
        scheme = "grpc+tls"
    url = f"{scheme}://127.0.0.1:{port}"
    argv = journeys_command(
        "store", "serve", "--db", str(db_path), "--host", "127.0.0.1", "--port", str(port)
    )
    process = ChildProcess(
        name,
        argv,
        directory / f"{name}.log",
        env=env,
        ready=lambda: _healthy(url, tokens["admin"], root),
    )
    with process:
        yield StoreServer(url, tokens, db_path, process, root, env)


@pytest.fixture(scope="session")
def store_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreServer]:
    """One store server for the whole session (isolate by unique customer ids)."""
    with running_store(tmp_path_factory.mktemp("store")) as server:
        yield server


@pytest.fixture
def store_server_factory(
    tmp_path: Path,
) -> Callable[..., AbstractContextManager[StoreServer]]:
    """Start private store servers (``with factory(db_path=..., tls=True) as server``)."""

    def start(**kwargs: object) -> AbstractContextManager[StoreServer]:
        return running_store(tmp_path, **kwargs)  # type: ignore[arg-type]

    return start


#: The store backends the behaviour suite runs on (test ids ``[duckdb]`` and ``[postgres]``).
BACKENDS = ("duckdb", "postgres")
AnyStore = StoreServer | PostgresStoreServer


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend under test."""
    name: str = request.param
    return name


@pytest.fixture
def any_store(backend: str, request: pytest.FixtureRequest) -> AnyStore:
    """The session store of ``backend`` (isolate by unique customer ids)."""
    name = "store_server" if backend == "duckdb" else "postgres_store"
    store: AnyStore = request.getfixturevalue(name)
    return store


@pytest.fixture
def any_store_factory(
    backend: str, request: pytest.FixtureRequest
) -> Callable[..., AbstractContextManager[AnyStore]]:
    """Private stores of ``backend`` (``with factory(name=..., durable=True) as store``)."""
    name = "store_server_factory" if backend == "duckdb" else "postgres_store_factory"
    factory: Callable[..., AbstractContextManager[AnyStore]] = request.getfixturevalue(name)
    return factory


__all__ = [
    "postgres_cluster",
    "postgres_store",
    "postgres_store_factory",
    "postgres_tokens",
]
