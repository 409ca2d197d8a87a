"""Which lake the analysts' commands read: ``--lake``, the environment, or where it usually is.

``journeys sql`` and ``journeys catalog`` need the lake and its Iceberg catalog only, never the
store (an analyst holds no store token). The lake is, in this order:

1. the ``--lake PATH`` option;
2. ``JOURNEYS_OFFLOAD_LAKE_URI`` (the variable the jobs read);
3. the first of the search directories that holds an offload lake: ``./lake`` (the jobs'
   default) and the lake of ``journeys up``'s data directory (``data/lake``), which the command
   passes in (the offload package does not know the local stack).

The DuckDB catalog is ``JOURNEYS_OFFLOAD_CATALOG_PATH`` when set, else ``analytics.duckdb``
next to a local lake (where the jobs and ``journeys up`` write it).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from offload.errors import LakeNotFound
from offload.iceberg_tables import CATALOG_FILE
from offload.lake import Lake
from offload.settings import LakeSettings

CATALOG_NAME = "analytics.duckdb"


def find_lake(lake: str | None = None, *, search: Sequence[Path] = ()) -> LakeSettings:
    """The lake settings for the analysts' commands (see the module docstring).

    Raises :class:`LakeNotFound` with one line saying what to pass when there is no lake.
    """
    settings = LakeSettings()
    uri = lake or (settings.lake_uri if "lake_uri" in settings.model_fields_set else None)
    if uri is None:
        candidates = [Path("lake"), *search]
        uri = _first_lake(candidates)
        if uri is None:
            looked = ", ".join(str(path) for path in candidates)
            raise LakeNotFound(
                f"no lake found (looked in {looked}): pass --lake PATH or set "
                "JOURNEYS_OFFLOAD_LAKE_URI; no store settings are needed"
            )
    found = Lake(uri)
    if found.is_local:
        uri = found.root
        if not os.path.isdir(uri):
            raise LakeNotFound(
                f"no lake at {uri}: pass --lake PATH or set JOURNEYS_OFFLOAD_LAKE_URI"
            )
    update: dict[str, object] = {"lake_uri": uri}
    if "catalog_path" not in settings.model_fields_set and found.is_local:
        update["catalog_path"] = Path(found.root).parent / CATALOG_NAME
    return settings.model_copy(update=update)


def _first_lake(candidates: Sequence[Path]) -> str | None:
    for candidate in candidates:
        if (candidate / CATALOG_FILE).is_file():
            return str(candidate.resolve())
    return None
