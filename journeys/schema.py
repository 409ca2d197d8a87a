"""The journey data model: one Arrow schema for the table, the wire and the Parquet files.

Everything that stores or moves journeys derives from :data:`JOURNEY_SCHEMA`: the store's
``CREATE TABLE`` (``store/``), Flight batches, the Parquet lake (``offload/``) and the JSON
shape in the Kafka reply (``contract``; a unit test keeps them in step).

Columns
-------
customer_id, journey_id   primary key, non-null strings matching :data:`ID_PATTERN`
campaign, journey_name    which campaign the journey belongs to and its display name
step, channel             current step number (0-based) and the channel it is sent on
content                   typed struct: what a frontend shows (title, body, cta_url, image_url)
status                    ``open`` while the journey runs, ``closed`` when it has ended
priority                  lower is more important; frontends sort by it
valid_from, valid_to      when the journey may be shown (valid_to null = open-ended)
created_at                when the campaigns system created the journey
updated_at                the store's write time: the server stamps it on every upsert, so
                          "updated after a snapshot" is decided by one clock
closed_at                 when the journey closed; set exactly when status is ``closed``
attributes                JSON object with campaign-specific fields (flexible schema)
"""

from __future__ import annotations

import re
from typing import Final

import pyarrow as pa

TABLE_NAME: Final = "journeys"
PRIMARY_KEY: Final = ("customer_id", "journey_id")
STATUSES: Final = ("open", "closed")
CHANNELS: Final = ("email", "sms", "push", "web", "app")

#: Customer and journey ids: 1-64 characters, letters, digits, ``_ . -``; must start with a
#: letter or digit. Documented in the wire contract and enforced at every boundary.
ID_MAX_LENGTH: Final = 64
ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
ID_RE: Final = re.compile(ID_PATTERN)

UTC_TIMESTAMP: Final = pa.timestamp("us", tz="UTC")

CONTENT_TYPE: Final = pa.struct(
    [
        pa.field("title", pa.string(), nullable=False),
        pa.field("body", pa.string()),
        pa.field("cta_url", pa.string()),
        pa.field("image_url", pa.string()),
    ]
)

JOURNEY_SCHEMA: Final = pa.schema(
    [
        pa.field("customer_id", pa.string(), nullable=False),
        pa.field("journey_id", pa.string(), nullable=False),
        pa.field("campaign", pa.string(), nullable=False),
        pa.field("journey_name", pa.string(), nullable=False),
        pa.field("step", pa.int32(), nullable=False),
        pa.field("channel", pa.string(), nullable=False),
        pa.field("content", CONTENT_TYPE, nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("priority", pa.int32(), nullable=False),
        pa.field("valid_from", UTC_TIMESTAMP, nullable=False),
        pa.field("valid_to", UTC_TIMESTAMP),
        pa.field("created_at", UTC_TIMESTAMP, nullable=False),
        pa.field("updated_at", UTC_TIMESTAMP, nullable=False),
        pa.field("closed_at", UTC_TIMESTAMP),
        pa.field("attributes", pa.string(), nullable=False),
    ],
    metadata={"table": TABLE_NAME, "primary_key": ",".join(PRIMARY_KEY), "version": "1"},
)

COLUMN_NAMES: Final = tuple(JOURNEY_SCHEMA.names)

#: The order of a lookup's rows (``Table.sort_by`` keys): by customer, then most important
#: (lowest priority) first.
LOOKUP_ORDER: Final = [
    ("customer_id", "ascending"),
    ("priority", "ascending"),
    ("journey_id", "ascending"),
]

#: The schema of a batch of primary keys (what housekeeping asks the store to purge).
KEY_SCHEMA: Final = pa.schema([JOURNEY_SCHEMA.field(name) for name in PRIMARY_KEY])

_DUCKDB_TYPES: Final = {
    pa.string(): "VARCHAR",
    pa.int32(): "INTEGER",
    UTC_TIMESTAMP: "TIMESTAMPTZ",
}


def _duckdb_type(field: pa.Field) -> str:
    if field.name == "attributes":
        return "JSON"
    if field.type == CONTENT_TYPE:
        members = ", ".join(f"{child.name} VARCHAR" for child in CONTENT_TYPE)
        return f"STRUCT({members})"
    return _DUCKDB_TYPES[field.type]


def create_table_sql(table: str = TABLE_NAME) -> str:
    """The DuckDB DDL for the journeys table, derived from :data:`JOURNEY_SCHEMA`."""
    columns = []
    for field in JOURNEY_SCHEMA:
        null = "" if field.nullable else " NOT NULL"
        columns.append(f"    {field.name} {_duckdb_type(field)}{null}")
    checks = [
        "    CHECK (status IN ('open', 'closed'))",
        "    CHECK ((status = 'closed') = (closed_at IS NOT NULL))",
        "    CHECK (json_type(attributes) = 'OBJECT')",
    ]
    body = ",\n".join([*columns, *checks, f"    PRIMARY KEY ({', '.join(PRIMARY_KEY)})"])
    return f"CREATE TABLE IF NOT EXISTS {table} (\n{body}\n)"


def conform_to_journey_schema(table: pa.Table) -> pa.Table:
    """``table`` with exactly :data:`JOURNEY_SCHEMA` (column order, types, nullability, metadata).

    Query results from DuckDB carry nullable fields and its own time-zone spelling
    (``Etc/UTC``); this casts them to the one schema every consumer expects. Raises
    ``KeyError`` for a missing column and ``pyarrow.ArrowInvalid`` for values that do not fit.
    """
    columns = [table.column(name) for name in COLUMN_NAMES]
    return pa.Table.from_arrays(columns, names=list(COLUMN_NAMES)).cast(JOURNEY_SCHEMA)
