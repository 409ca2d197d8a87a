"""The PostgreSQL schema of the journeys table: DDL, roles and forward-only migrations.

:func:`init_database` creates or migrates a database idempotently (``journeys store init``):

* ``journeys``: the columns and meaning of :data:`~journeys.schema.JOURNEY_SCHEMA`
  (``timestamptz``, ``content`` and ``attributes`` as ``jsonb`` objects, the status checks),
  primary key ``(customer_id, journey_id)`` with ``customer_id`` first, **hash-partitioned by
  customer_id** (the same distribution key Citus or YugabyteDB would use). The primary key's
  b-tree serves lookups by customer (``customer_id = $1``, or ``= ANY($1)`` for several: a
  condition on its leading column; a test checks the plans).
* ``journeys_lookup``: a view of the table; readers may read the view, not the table, so the
  database refuses an offloader's lookup like the Flight server refuses its token.
* ``journeys_clock``: one row, the last change marker handed out (see :mod:`.client`).
* ``journeys_schema_version``: which migrations ran; migrations only ever go forward.
* Three group roles, least privilege, mirroring the Flight server's tokens:
  reader (select on the view), writer (insert/update on the table, and select on it because
  PostgreSQL requires it for ``ON CONFLICT DO UPDATE SET c = excluded.c``; not on the view),
  offloader (select/delete on the table). The owner is the admin. Lookups read the view, so
  only readers (and the admin) can look up, like on the Flight server.
"""

# SQL here is composed from this module's constants and identifiers quoted by psycopg.sql;
# passwords are bound as literals by psycopg.sql.Literal.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import psycopg
from psycopg import sql

from journeys.schema import CHANNELS, ID_MAX_LENGTH, ID_PATTERN, STATUSES, TABLE_NAME

LOOKUP_VIEW: Final = "journeys_lookup"
CLOCK_TABLE: Final = "journeys_clock"
VERSION_TABLE: Final = "journeys_schema_version"
STATS_FUNCTION: Final = "journeys_stats"
DEFAULT_PARTITIONS: Final = 16
#: The store's roles → PostgreSQL group roles (admin is the owner of the objects).
ROLE_NAMES: Final = {
    "reader": "journeys_reader",
    "writer": "journeys_writer",
    "offloader": "journeys_offloader",
}


def _quoted_list(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


def _table_ddl(partitions: int) -> list[str]:
    pattern = ID_PATTERN.replace("'", "''")
    table = f"""
        CREATE TABLE {TABLE_NAME} (
            customer_id  text NOT NULL CHECK (customer_id ~ '{pattern}'),
            journey_id   text NOT NULL CHECK (journey_id ~ '{pattern}'),
            campaign     text NOT NULL,
            journey_name text NOT NULL,
            step         integer NOT NULL CHECK (step >= 0),
            channel      text NOT NULL CHECK (channel IN ({_quoted_list(CHANNELS)})),
            content      jsonb NOT NULL CHECK (jsonb_typeof(content) = 'object'
                                               AND jsonb_typeof(content -> 'title') = 'string'),
            status       text NOT NULL CHECK (status IN ({_quoted_list(STATUSES)})),
            priority     integer NOT NULL,
            valid_from   timestamptz NOT NULL,
            valid_to     timestamptz,
            created_at   timestamptz NOT NULL,
            updated_at   timestamptz NOT NULL,
            closed_at    timestamptz,
            attributes   jsonb NOT NULL CHECK (jsonb_typeof(attributes) = 'object'),
            CHECK ((status = 'closed') = (closed_at IS NOT NULL)),
            PRIMARY KEY (customer_id, journey_id)
        ) PARTITION BY HASH (customer_id)
    """
    parts = [
        f"CREATE TABLE {TABLE_NAME}_p{i} PARTITION OF {TABLE_NAME} "
        f"FOR VALUES WITH (MODULUS {partitions}, REMAINDER {i})"
        for i in range(partitions)
    ]
    return [
        table,
        *parts,
        f"CREATE VIEW {LOOKUP_VIEW} AS SELECT * FROM {TABLE_NAME}",
        f"CREATE TABLE {CLOCK_TABLE} (one boolean PRIMARY KEY DEFAULT true CHECK (one), "
        f"last timestamptz NOT NULL)",
        f"INSERT INTO {CLOCK_TABLE} (last) VALUES (clock_timestamp())",
        # Stats for every role (readers may not read the table itself).
        f"""CREATE FUNCTION {STATS_FUNCTION}(OUT rows_open bigint, OUT rows_closed bigint,
                                           OUT db_bytes bigint)
            LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
              SELECT count(*) FILTER (WHERE status = 'open'),
                     count(*) FILTER (WHERE status = 'closed'),
                     pg_database_size(current_database())
              FROM public.{TABLE_NAME} $$""",
    ]


def _grants() -> list[str]:
    reader, writer, offloader = (ROLE_NAMES[r] for r in ("reader", "writer", "offloader"))
    return [
        f"REVOKE ALL ON {TABLE_NAME}, {LOOKUP_VIEW}, {CLOCK_TABLE} FROM PUBLIC",
        f"GRANT SELECT ON {LOOKUP_VIEW} TO {reader}",
        # ON CONFLICT DO UPDATE SET c = excluded.c needs SELECT on c: PostgreSQL checks it.
        f"GRANT SELECT, INSERT, UPDATE ON {TABLE_NAME} TO {writer}",
        f"GRANT SELECT, UPDATE ON {CLOCK_TABLE} TO {writer}",
        f"GRANT SELECT, DELETE ON {TABLE_NAME} TO {offloader}",
        f"GRANT SELECT ON {CLOCK_TABLE} TO {offloader}",
        f"GRANT SELECT ON {VERSION_TABLE} TO {reader}, {writer}, {offloader}",
        f"REVOKE ALL ON FUNCTION {STATS_FUNCTION}() FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION {STATS_FUNCTION}() TO {reader}, {writer}, {offloader}",
    ]


@dataclass(frozen=True)
class Migration:
    """One forward-only step of the schema."""

    version: int
    description: str
    statements: tuple[str, ...]


def _cheap_id_checks() -> list[str]:
    """The id checks without the bounded repetition ``{0,63}``.

    PostgreSQL's regex engine expands a bounded repetition into a large automaton: the
    original checks cost ~20 µs per row and more than half of an upsert's server time
    (measured, docs/store-backends.md). ``^[first][rest]*$`` plus a length bound accepts
    exactly the same ids (:data:`~journeys.schema.ID_PATTERN`; ASCII only, so characters are
    bytes) at a twentieth of the cost.
    """
    first, rest = "[A-Za-z0-9]", "[A-Za-z0-9_.-]"
    statements = []
    for column in ("customer_id", "journey_id"):
        statements.append(
            f"ALTER TABLE {TABLE_NAME} DROP CONSTRAINT {TABLE_NAME}_{column}_check, "
            f"ADD CONSTRAINT {TABLE_NAME}_{column}_check CHECK ({column} ~ '^{first}{rest}*$' "
            f"AND length({column}) <= {ID_MAX_LENGTH})"
        )
    return statements


def migrations(partitions: int) -> list[Migration]:
    """Every migration in order; a database records the versions it ran."""
    return [
        Migration(
            1,
            f"journeys table hash-partitioned into {partitions}, lookup view, clock, grants",
            (*_table_ddl(partitions), *_grants()),
        ),
        Migration(
            2, "id checks without a bounded repetition (same ids)", tuple(_cheap_id_checks())
        ),
    ]


def _ensure_roles(cursor: psycopg.Cursor[tuple[object, ...]]) -> None:
    for name in ROLE_NAMES.values():
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(name)))


def set_login_passwords(conninfo: str, passwords: Mapping[str, str]) -> None:
    """Let the group roles log in with these passwords (``{"reader": "...", ...}``).

    For local stacks and tests; production creates its own login roles ``IN ROLE`` the groups
    (deploy/postgres/README.md).
    """
    with psycopg.connect(conninfo, autocommit=True) as connection, connection.cursor() as cur:
        for role, password in passwords.items():
            statement = sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(ROLE_NAMES[role]), sql.Literal(password)
            )
            cur.execute(statement)


def init_database(conninfo: str, partitions: int = DEFAULT_PARTITIONS) -> list[int]:
    """Create or migrate the schema; returns the versions applied now (empty: up to date).

    Runs in one transaction under an advisory lock, so two concurrent inits do not race.
    ``partitions`` only matters when the table is created.
    """
    if partitions < 1:
        raise ValueError("partitions must be at least 1")
    applied: list[int] = []
    with psycopg.connect(conninfo) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('journeys schema'))")
        _ensure_roles(cursor)
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version integer PRIMARY KEY, "
            f"description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cursor.execute(f"SELECT coalesce(max(version), 0) FROM {VERSION_TABLE}")
        row = cursor.fetchone()
        current = int(row[0]) if row is not None else 0
        for migration in migrations(partitions):
            if migration.version <= current:
                continue
            for statement in migration.statements:
                cursor.execute(statement)
            cursor.execute(
                f"INSERT INTO {VERSION_TABLE} (version, description) VALUES (%s, %s)",
                [migration.version, migration.description],
            )
            applied.append(migration.version)
    return applied


def schema_version(connection: psycopg.Connection[tuple[Any, ...]]) -> int:
    """The highest migration the database ran (0 when never initialised)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [VERSION_TABLE])
        row = cursor.fetchone()
        if row is None or not row[0]:
            return 0
        cursor.execute(f"SELECT coalesce(max(version), 0) FROM {VERSION_TABLE}")
        found = cursor.fetchone()
        return int(found[0]) if found is not None else 0
