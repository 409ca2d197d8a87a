"""The legacy Parquet layout of ``journeys_open`` (before Iceberg), read by the migration.

Layout::

    journeys_open/_current.json                  the pointer: which snapshot is published
    journeys_open/snapshots/<date>-<run>/        one snapshot
        part-0.parquet … part-<k>.parquet        data (JOURNEY_SCHEMA, zstd)
        _manifest.json                           snapshot_at, the store's row count, files
        _audited.json                            written by a passed audit

Readers open the pointer first, then read exactly the files it names. The pointer is replaced
atomically (see :mod:`offload.lake`) and only ever names a complete, audited
snapshot, so a reader sees one whole snapshot, never a partial one.
"""

from __future__ import annotations

from typing import Any, Final

from offload.lake import Lake

OPEN_TABLE: Final = "journeys_open"
POINTER: Final = f"{OPEN_TABLE}/_current.json"
SNAPSHOTS: Final = f"{OPEN_TABLE}/snapshots"
MANIFEST: Final = "_manifest.json"
AUDITED: Final = "_audited.json"


def read_pointer(lake: Lake) -> dict[str, Any] | None:
    """The published snapshot's pointer record, or None before the first publish."""
    return lake.read_json(lake.path(POINTER))


def snapshot_files(lake: Lake, pointer: dict[str, Any] | None) -> list[str]:
    """Filesystem paths of the files of the snapshot ``pointer`` names.

    A reader reads the pointer once and then only these files: reading the pointer again
    could name a newer snapshot.
    """
    if pointer is None:
        return []
    return [lake.path(pointer["path"], name) for name in pointer["files"]]


def current_snapshot_files(lake: Lake) -> list[str]:
    """Filesystem paths of the published snapshot's files (empty before the first publish)."""
    return snapshot_files(lake, read_pointer(lake))
