"""Iceberg field ids in the data files.

Iceberg readers find a Parquet column by its **field id** (the ``field_id`` of the Parquet
schema), not by its name: Apache Iceberg's Java library (``IcebergGenerics``), Spark and Trino
all do, and fall back to the table's ``schema.name-mapping.default`` only for files without ids.
Every file the jobs write therefore carries :data:`FILE_SCHEMA`: exactly
:data:`journeys.schema.JOURNEY_SCHEMA` (names, types, nullability, metadata) with each field,
nested ones too, labelled ``PARQUET:field_id`` (pyarrow writes that field metadata as the
Parquet field id).

The ids are the ones Iceberg gives a new table of JOURNEY_SCHEMA (pyiceberg's
``assign_fresh_schema_ids``: a struct's fields first, in order, then each field's nested
fields), so ``customer_id`` … ``attributes`` are 1 … 15 and ``content.title`` …
``content.image_url`` 16 … 19.
:class:`offload.iceberg_tables.LakeTables` checks on every open that both tables' schemas give
exactly these ids, so a file never names a column the table calls otherwise.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

import pyarrow as pa
import pyarrow.parquet as pq

from journeys.schema import JOURNEY_SCHEMA

if TYPE_CHECKING:
    from pyiceberg.schema import Schema

    from offload.lake import Lake

#: The Arrow field metadata key pyarrow reads and writes as the Parquet field id.
FIELD_ID_KEY: Final = b"PARQUET:field_id"


def _numbered(fields: list[pa.Field], ids: Iterator[int]) -> list[pa.Field]:
    """``fields`` labelled with Iceberg's fresh ids: these fields first, then their children."""
    own = [next(ids) for _ in fields]
    labelled = []
    for field_id, field in zip(own, fields, strict=True):
        kind = field.type
        if pa.types.is_struct(kind):
            kind = pa.struct(_numbered(list(kind), ids))
        elif pa.types.is_nested(kind):  # lists and maps number their element/key/value too
            raise TypeError(f"{field.name}: {kind} is not numbered here; add it to _numbered")
        metadata = {**(field.metadata or {}), FIELD_ID_KEY: str(field_id).encode()}
        labelled.append(pa.field(field.name, kind, field.nullable, metadata))
    return labelled


#: JOURNEY_SCHEMA with the Iceberg field id of every field: the schema of every data file.
FILE_SCHEMA: Final = pa.schema(
    _numbered(list(JOURNEY_SCHEMA), itertools.count(1)), metadata=JOURNEY_SCHEMA.metadata
)


def arrow_field_ids(schema: pa.Schema) -> dict[str, int]:
    """Dotted field path → field id of every field of ``schema`` (nested too); a field without
    an id maps to -1."""
    found: dict[str, int] = {}

    def visit(fields: list[pa.Field], prefix: str) -> None:
        for field in fields:
            path = f"{prefix}{field.name}"
            found[path] = int((field.metadata or {}).get(FIELD_ID_KEY, b"-1"))
            if pa.types.is_struct(field.type):
                visit(list(field.type), f"{path}.")

    visit(list(schema), "")
    return found


#: What every data file must carry (and every table's schema must say).
EXPECTED_FIELD_IDS: Final = arrow_field_ids(FILE_SCHEMA)


def iceberg_field_ids(schema: Schema) -> dict[str, int]:
    """Dotted field path → field id of an Iceberg schema."""
    from pyiceberg.schema import index_by_name

    return dict(index_by_name(schema))


def file_field_ids(lake: Lake, path: str) -> dict[str, int]:
    """Dotted field path → field id of the Parquet file ``path`` (-1 where it has none)."""
    return arrow_field_ids(pq.read_schema(path, filesystem=lake.fs))


def has_field_ids(lake: Lake, path: str) -> bool:
    """True when the file ``path`` carries exactly the table's field ids on every field."""
    return file_field_ids(lake, path) == EXPECTED_FIELD_IDS


def as_file_table(table: pa.Table) -> pa.Table:
    """``table`` (JOURNEY_SCHEMA's columns) as :data:`FILE_SCHEMA`, ready to be written."""
    return table.cast(FILE_SCHEMA)
