"""What travels between :class:`~store.client.StoreClient` and the store server.

Operations map onto Flight calls; their parameters are JSON in the ticket, the descriptor
command or the action body:

=========== ======================= ==========================================================
operation   Flight call             payload
=========== ======================= ==========================================================
upsert      DoPut                   ``{"op": "upsert"}``; batches of JOURNEY_SCHEMA; one
                                    ``{"rows": n}`` ack (app metadata) per committed batch
lookup      DoGet                   ``{"op": "lookup", "customer_ids": [...], "status": ...}``
scan        DoGet                   ``{"op": "scan", "status": ...}``; schema metadata
                                    ``snapshot_at`` (epoch µs) and ``row_count``
purge       DoPut                   ``{"op": "purge", "closed_before": µs, "snapshot_at": µs,
                                    "keys": bool}``; batches of KEY_SCHEMA; ``{"rows": n}``
stats       DoAction ``stats``      → ``{"rows_open", "rows_closed", "db_bytes", "version"}``
health      DoAction ``health``     → ``{"status": "ok", "version"}``
checkpoint  DoAction ``checkpoint`` → ``{"status": "ok"}``
=========== ======================= ==========================================================

Bearer tokens travel in the ``authorization`` header; each token has one :class:`Role`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

AUTHORIZATION_HEADER: Final = "authorization"
SNAPSHOT_AT_KEY: Final = b"snapshot_at"
ROW_COUNT_KEY: Final = b"row_count"
#: Upper bound of one lookup request (the responder batches far fewer).
MAX_LOOKUP_IDS: Final = 10_000


class Role(StrEnum):
    """What a token may do."""

    READER = "reader"
    WRITER = "writer"
    OFFLOADER = "offloader"
    ADMIN = "admin"


class Operation(StrEnum):
    """Every store operation; each is allowed to the roles in :data:`PERMISSIONS`."""

    UPSERT = "upsert"
    LOOKUP = "lookup"
    SCAN = "scan"
    PURGE = "purge"
    STATS = "stats"
    HEALTH = "health"
    CHECKPOINT = "checkpoint"


_EVERYONE: Final = frozenset(Role)

#: Which roles may perform each operation (admin may do everything).
PERMISSIONS: Final[dict[Operation, frozenset[Role]]] = {
    Operation.UPSERT: frozenset({Role.WRITER, Role.ADMIN}),
    Operation.LOOKUP: frozenset({Role.READER, Role.ADMIN}),
    Operation.SCAN: frozenset({Role.OFFLOADER, Role.ADMIN}),
    Operation.PURGE: frozenset({Role.OFFLOADER, Role.ADMIN}),
    Operation.STATS: _EVERYONE,
    Operation.HEALTH: _EVERYONE,
    Operation.CHECKPOINT: frozenset({Role.ADMIN}),
}
