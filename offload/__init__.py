"""Offload of the store to the Parquet lake, and the analysts' DuckDB catalog.

Plain Python (no Airflow): the DAGs in ``dags/`` and the ``journeys offload`` CLI call the same
step functions. See ``docs/analysts.md`` for the lake layout and the catalog.
"""

from offload.catalog import CatalogInfo, build_catalog, catalog_path, run_query
from offload.closed_table import committed_files, partition_name
from offload.errors import (
    AuditFailed,
    CatalogError,
    LakeError,
    LakeStateError,
    NotPublished,
    OffloadError,
)
from offload.housekeeping import (
    PartPurged,
    PartWritten,
    audit_closed_part,
    purge_closed_part,
    write_closed_part,
)
from offload.jobs import run_housekeeping, run_nightly
from offload.lake import Lake
from offload.metrics import write_job_metrics
from offload.nightly import (
    SnapshotWritten,
    audit_open_snapshot,
    clean_open_snapshots,
    publish_open_snapshot,
    write_open_snapshot,
)
from offload.open_table import current_snapshot_files, read_pointer, snapshot_files
from offload.progress import (
    HOUSEKEEPING_CHECKPOINTS,
    NIGHTLY_CHECKPOINTS,
    JobObserver,
    NullObserver,
)
from offload.settings import OffloadSettings, settings_with_overrides
from offload.summary import JobSummary

__all__ = [
    "HOUSEKEEPING_CHECKPOINTS",
    "NIGHTLY_CHECKPOINTS",
    "AuditFailed",
    "CatalogError",
    "CatalogInfo",
    "JobObserver",
    "JobSummary",
    "Lake",
    "LakeError",
    "LakeStateError",
    "NotPublished",
    "NullObserver",
    "OffloadError",
    "OffloadSettings",
    "PartPurged",
    "PartWritten",
    "SnapshotWritten",
    "audit_closed_part",
    "audit_open_snapshot",
    "build_catalog",
    "catalog_path",
    "clean_open_snapshots",
    "committed_files",
    "current_snapshot_files",
    "partition_name",
    "publish_open_snapshot",
    "purge_closed_part",
    "read_pointer",
    "run_housekeeping",
    "run_nightly",
    "run_query",
    "settings_with_overrides",
    "snapshot_files",
    "write_closed_part",
    "write_job_metrics",
    "write_open_snapshot",
]
