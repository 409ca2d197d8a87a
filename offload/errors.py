"""Errors raised by the offload jobs and the analysts' catalog.

    OffloadError                    base class; ``retriable`` says whether a rerun may succeed
    ├── LakeError                   the lake filesystem failed (unreachable, permission, I/O)
    ├── AuditFailed                 written Parquet does not match the store's snapshot
    ├── NotPublished                a step that needs a published snapshot ran before publish
    ├── LakeStateError              the lake holds a state a rerun cannot resume from
    ├── LakeNotFound                the analysts' commands found no lake (or no tables in it)
    ├── OffloadLocked               another offload run holds the lake's lock (retriable)
    ├── CatalogError                the analysts' DuckDB catalog or a query over it failed
    │   └── AsOfTooOld              ``--as-of`` is before the oldest snapshot kept
    └── MigrationError              the Parquet-layout migration found different counts

Store failures surface as :class:`store.errors.StoreError` (they carry their own
``retriable`` flag); the CLI reports both families as one line.
"""

from __future__ import annotations


class OffloadError(Exception):
    """Base class of every error the offload package raises."""

    retriable: bool = False


class LakeError(OffloadError):
    """Reading or writing the lake failed; usually transient (network, object store)."""

    retriable = True


class AuditFailed(OffloadError):
    """The written files do not match the snapshot (count, schema or primary key)."""


class NotPublished(OffloadError):
    """A step that may only run after publish (cleaning) found the snapshot unpublished."""


class LakeStateError(OffloadError):
    """The lake's recorded state is inconsistent; a human must look before rerunning."""


class LakeNotFound(OffloadError):
    """No lake where the analysts' commands looked, or a lake without the Iceberg tables."""


class OffloadLocked(OffloadError):
    """Another offload run (CLI, Airflow task, benchmark) holds the lake's lock right now."""

    retriable = True


class CatalogError(OffloadError):
    """Building the catalog or running an analyst's query failed."""


class AsOfTooOld(CatalogError):
    """A time-travel query asks for a time before the oldest table snapshot kept."""


class MigrationError(OffloadError):
    """Importing the old Parquet layout into the Iceberg tables did not check out."""
