"""Offload of the store to the analysts' Apache Iceberg tables, and their DuckDB catalog.

Plain Python (no Airflow): the DAGs in ``dags/`` and the ``journeys offload`` CLI call the same
step functions. See ``docs/analysts.md`` for the tables and the catalog.
"""

from offload.catalog import CatalogInfo, build_catalog, catalog_path, query_as_of, run_query
from offload.errors import (
    AsOfTooOld,
    AuditFailed,
    CatalogError,
    LakeError,
    LakeNotFound,
    LakeStateError,
    MigrationError,
    NotPublished,
    OffloadError,
    OffloadLocked,
)
from offload.housekeeping import (
    PartPurged,
    PartWritten,
    audit_closed_part,
    commit_closed_part,
    purge_closed_part,
    refresh_current_table,
    write_closed_part,
)
from offload.iceberg_tables import CLOSED_TABLE, CURRENT_TABLE, OPEN_TABLE, LakeTables
from offload.jobs import run_housekeeping, run_nightly
from offload.lake import Lake, register_filesystem
from offload.lake_finder import find_lake
from offload.metrics import write_job_metrics
from offload.migration import MigrationReport, migrate_parquet_lake
from offload.nightly import (
    SnapshotWritten,
    audit_open_snapshot,
    clean_open_snapshots,
    publish_open_snapshot,
    published_path,
    release_from_closed,
    write_open_snapshot,
)
from offload.progress import (
    HOUSEKEEPING_CHECKPOINTS,
    NIGHTLY_CHECKPOINTS,
    JobObserver,
    NullObserver,
)
from offload.settings import LakeSettings, OffloadSettings, settings_with_overrides
from offload.summary import JobSummary

__all__ = [
    "CLOSED_TABLE",
    "CURRENT_TABLE",
    "HOUSEKEEPING_CHECKPOINTS",
    "NIGHTLY_CHECKPOINTS",
    "OPEN_TABLE",
    "AsOfTooOld",
    "AuditFailed",
    "CatalogError",
    "CatalogInfo",
    "JobObserver",
    "JobSummary",
    "Lake",
    "LakeError",
    "LakeNotFound",
    "LakeSettings",
    "LakeStateError",
    "LakeTables",
    "MigrationError",
    "MigrationReport",
    "NotPublished",
    "NullObserver",
    "OffloadError",
    "OffloadLocked",
    "OffloadSettings",
    "PartPurged",
    "PartWritten",
    "SnapshotWritten",
    "audit_closed_part",
    "audit_open_snapshot",
    "build_catalog",
    "catalog_path",
    "clean_open_snapshots",
    "commit_closed_part",
    "find_lake",
    "migrate_parquet_lake",
    "publish_open_snapshot",
    "published_path",
    "purge_closed_part",
    "query_as_of",
    "refresh_current_table",
    "register_filesystem",
    "release_from_closed",
    "run_housekeeping",
    "run_nightly",
    "run_query",
    "settings_with_overrides",
    "write_closed_part",
    "write_job_metrics",
    "write_open_snapshot",
]
