"""A private store server for offload tests that must see the whole store (and only theirs).

Housekeeping scans and purges every closed row of a store, so these tests do not share the
session store with other areas: each starts its own real server process on a free port.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from journeys.schema import JOURNEY_SCHEMA
from store import StoreClient
from tests.support.processes import ChildProcess
from tests.support.store_fixtures import running_store


@dataclass
class PrivateStore:
    """A running store server: where it is and a token per role."""

    url: str
    tokens: dict[str, str]
    process: ChildProcess

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
    with running_store(directory) as server:
        yield PrivateStore(server.url, server.tokens, server.process)
