"""A private store server for offload tests that must see the whole store (and only theirs).

Housekeeping scans and purges every closed row of a store, so these tests do not share the
session store with other areas: each starts its own real server process on a free port.
"""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from journeys.schema import JOURNEY_SCHEMA
from journeys.store import StoreClient
from tests.support.processes import ServerProcess, free_port, port_open

_SERVE = textwrap.dedent(
    """
    from journeys.store.server import serve
    from journeys.store.settings import StoreServerSettings
    serve(StoreServerSettings())
    """
)


@dataclass
class PrivateStore:
    """A running store server: where it is and a token per role."""

    url: str
    tokens: dict[str, str]
    process: ServerProcess

    def client(self, role: str) -> StoreClient:
        """A client with ``role``'s token (the caller closes it)."""
        return StoreClient(self.url, self.tokens[role], timeout=30.0)

    def rows(self) -> pa.Table:
        """Every row of the store, via a snapshot scan."""
        with self.client("offloader") as client:
            table = client.scan(status="all").read_all()
        return table.cast(JOURNEY_SCHEMA)

    def upsert(self, table: pa.Table) -> pa.Table:
        """Write ``table`` and return the rows as the store now holds them (server timestamps)."""
        with self.client("writer") as client:
            client.upsert(table)
        return self.rows()


@contextmanager
def private_store(directory: Path) -> Iterator[PrivateStore]:
    """Start a store server with its database in ``directory``; stop it on exit."""
    port = free_port()
    tokens = {role: f"{role}-{uuid.uuid4().hex}" for role in ("reader", "writer", "offloader")}
    env = {
        "JOURNEYS_STORE_DB": str(directory / "store.duckdb"),
        "JOURNEYS_STORE_HOST": "127.0.0.1",
        "JOURNEYS_STORE_PORT": str(port),
        **{f"JOURNEYS_STORE_{role.upper()}_TOKENS": token for role, token in tokens.items()},
    }
    process = ServerProcess(
        f"store-{port}",
        [sys.executable, "-c", _SERVE],
        directory,
        env=env,
        ready=lambda: port_open(port),
        ready_timeout=60,
    )
    with process:
        yield PrivateStore(f"grpc://127.0.0.1:{port}", tokens, process)
