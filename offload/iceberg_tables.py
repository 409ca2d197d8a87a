"""The analysts' two Apache Iceberg tables and the only ways the jobs change them.

``journeys.journeys_current`` holds every journey the store holds (open, and closed but not yet
moved out) as of the last run's store snapshot; ``journeys.journeys_closed`` holds the journeys
housekeeping moved out of the store. The two are disjoint after every completed run, so their
union is every journey once. Both have exactly the store's columns
(:data:`journeys.schema.JOURNEY_SCHEMA`, converted by pyiceberg: strings, ints, ``timestamptz``,
the ``content`` struct; required where the store's column is NOT NULL). ``journeys_closed`` is
partitioned by ``month(closed_at)``: Iceberg has no week transform (year, month, day, hour,
bucket, truncate), and a month keeps files large where a day would make ~7 small files a week.

The jobs write Parquet data files themselves (streamed, in parallel, see
:mod:`offload.parquet_io`) into the table's ``data/`` directory, audit them, fsync them, and
only then make them part of the table by **one catalog commit** that also names the files it
drops (:meth:`LakeTables.replace`). Every data file carries the Iceberg field id of each column
(:mod:`offload.field_ids`), so any Iceberg reader resolves the columns without a name mapping;
the tables' schemas are checked to give exactly those ids, and a file without them is refused.
A file is never rewritten: removing rows means writing a new file without them and committing
the swap. Each commit's snapshot summary carries the run
id and the store's snapshot point, so a rerun can see that its commit already happened.

Catalog: by default a SQL catalog on SQLite in ``<lake>/iceberg_catalog.sqlite`` (one file,
offline); ``JOURNEYS_OFFLOAD_ICEBERG_CATALOG`` (JSON properties) selects any pyiceberg catalog
(REST, Glue, Hive, another SQL database).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

import pyarrow as pa

from journeys.schema import JOURNEY_SCHEMA
from offload.errors import LakeError, LakeNotFound, LakeStateError
from offload.field_ids import EXPECTED_FIELD_IDS, file_field_ids, iceberg_field_ids
from offload.lake import Lake

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.manifest import DataFile
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot

    from offload.settings import LakeSettings

CURRENT_TABLE: Final = "journeys_current"
CLOSED_TABLE: Final = "journeys_closed"
TABLES: Final = (CURRENT_TABLE, CLOSED_TABLE)
#: The nightly table of lakes written before ``journeys_current`` (open journeys only); the
#: jobs rename it to ``journeys_current`` (:meth:`LakeTables.upgrade`), history kept. Also the
#: name of the analysts' view of the open journeys.
OPEN_TABLE: Final = "journeys_open"
CATALOG_FILE: Final = "iceberg_catalog.sqlite"
#: Snapshot summary keys the jobs write (Iceberg keeps them with every snapshot).
RUN_ID: Final = "journeys.run-id"
RUN_PATH: Final = "journeys.run-path"
STORE_SNAPSHOT_AT: Final = "journeys.store-snapshot-at"
CHANGE: Final = "journeys.change"
CLOSED_PARTITION: Final = "closed_month"


@contextmanager
def _translated(what: str) -> Iterator[None]:
    """pyiceberg and filesystem failures as :class:`LakeError` (retriable)."""
    try:
        yield
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise LakeError(f"iceberg: cannot {what}: {exc}") from exc
    except Exception as exc:  # pyiceberg's exceptions share no base class
        if type(exc).__module__.startswith(("pyiceberg", "sqlalchemy")):
            raise LakeError(f"iceberg: cannot {what}: {type(exc).__name__}: {exc}") from exc
        raise


def catalog_properties(settings: LakeSettings, lake: Lake) -> dict[str, str]:
    """The pyiceberg catalog properties: the settings', or SQLite inside a local lake."""
    properties = dict(settings.iceberg_catalog)
    if not properties:
        if not lake.is_local:
            raise LakeStateError(
                f"lake {lake.uri} is not local: set JOURNEYS_OFFLOAD_ICEBERG_CATALOG "
                '(e.g. {"type": "rest", "uri": "https://…"}) for its Iceberg catalog'
            )
        properties = {"type": "sql", "uri": f"sqlite:///{lake.path(CATALOG_FILE)}"}
    properties.setdefault("warehouse", lake.iceberg_uri(lake.root))
    properties.setdefault("py-io-impl", "offload.iceberg_io.LakeFileIO")
    return properties


class LakeTables:
    """The lake's Iceberg catalog and its two tables (created on first use by the jobs).

    ``create=False`` (the analysts' commands) never creates anything: a lake without its
    catalog file or its tables is :class:`LakeNotFound`, not a new empty lake.
    """

    def __init__(
        self, settings: LakeSettings, lake: Lake | None = None, *, create: bool = True
    ) -> None:
        from pyiceberg.catalog import load_catalog

        self.lake = lake or Lake(settings.lake_uri)
        self.namespace = settings.iceberg_namespace
        properties = catalog_properties(settings, self.lake)
        if not create and not settings.iceberg_catalog:
            catalog_file = self.lake.path(CATALOG_FILE)
            if not self.lake.exists(catalog_file):
                raise LakeNotFound(f"no Iceberg catalog at {catalog_file}: not an offload lake")
        self._legacy_current = False
        #: Set when this object renamed the old ``journeys_open`` table (see :meth:`upgrade`).
        self.upgraded = False
        with _translated("open the catalog"):
            self.catalog: Catalog = load_catalog(settings.iceberg_catalog_name, **properties)
            if create:
                self.catalog.create_namespace_if_not_exists(self.namespace)
                self.upgraded = self.upgrade()
            for name in TABLES:
                if create:
                    self._create_if_missing(name)
                    continue
                if name == CURRENT_TABLE and not self.catalog.table_exists(self.identifier(name)):
                    self._legacy_current = self.catalog.table_exists(
                        f"{self.namespace}.{OPEN_TABLE}"
                    )
                if not self.catalog.table_exists(self.identifier(name)):
                    raise LakeNotFound(f"lake {self.lake.uri} has no table {self.identifier(name)}")

    def identifier(self, name: str) -> str:
        """``namespace.name`` (``journeys_current`` of a lake not yet upgraded is read from the
        old ``journeys_open`` table: it holds the open journeys, what that lake's views showed)."""
        if name == CURRENT_TABLE and self._legacy_current:
            name = OPEN_TABLE
        return f"{self.namespace}.{name}"

    def upgrade(self) -> bool:
        """Rename the old nightly table ``journeys_open`` to ``journeys_current`` (one catalog
        operation: its snapshots, hence time travel, stay). True if it renamed it.

        The old table held the open journeys of each night; the new one holds every journey of
        the store. Its old snapshots stay right under the new meaning as far as the analysts'
        views go: ``journeys_open`` filters ``status = 'open'``, and the journeys the old table
        lacked (closed, not yet moved) were missing from ``journeys_all`` then too.
        """
        old, new = f"{self.namespace}.{OPEN_TABLE}", self.identifier(CURRENT_TABLE)
        if self.catalog.table_exists(new) or not self.catalog.table_exists(old):
            return False
        self.catalog.rename_table(old, new)
        return True

    def _create_if_missing(self, name: str) -> None:
        from pyiceberg.transforms import MonthTransform

        table = self.catalog.create_table_if_not_exists(
            self.identifier(name),
            schema=JOURNEY_SCHEMA,
            location=self.lake.iceberg_uri(self.lake.path(name)),
        )
        if name == CLOSED_TABLE and table.spec().is_unpartitioned():
            with table.update_spec() as spec:
                spec.add_field("closed_at", MonthTransform(), CLOSED_PARTITION)
        ids = iceberg_field_ids(table.schema())
        if ids != EXPECTED_FIELD_IDS:
            raise LakeStateError(
                f"{self.identifier(name)}: the table's field ids {ids} are not the ones the data "
                f"files carry ({EXPECTED_FIELD_IDS}); the table was not created by this offload"
            )

    def table(self, name: str) -> Table:
        """The table as the catalog has it now."""
        with _translated(f"load {name}"):
            return self.catalog.load_table(self.identifier(name))

    def data_dir(self, name: str) -> str:
        """Where the jobs write ``name``'s data files (a filesystem path in the lake)."""
        return self.lake.path(name, "data")

    def data_files(self, name: str, snapshot_id: int | None = None) -> list[DataFile]:
        """The data files of the current (or the given) snapshot of ``name``."""
        table = self.table(name)
        if snapshot_id is None and table.current_snapshot() is None:
            return []
        with _translated(f"plan {name}"):
            return [task.file for task in table.scan(snapshot_id=snapshot_id).plan_files()]

    def file_paths(self, name: str, snapshot_id: int | None = None) -> list[str]:
        """Filesystem paths of the data files of the current (or given) snapshot, sorted."""
        files = self.data_files(name, snapshot_id)
        return sorted(self.lake.fs_path(file.file_path) for file in files)

    def snapshot_of_run(self, name: str, run_id: str) -> Snapshot | None:
        """The snapshot a run committed (found by the run id in its summary), if any."""
        for snapshot in self.table(name).snapshots():
            summary = snapshot.summary
            if summary is not None and summary.additional_properties.get(RUN_ID) == run_id:
                return snapshot
        return None

    def snapshot_as_of(self, name: str, when: datetime) -> int | None:
        """The id of the snapshot of ``name`` current at ``when``, or None (table empty then).

        Call :meth:`oldest_time_kept` first: before it, "no snapshot" means "expired", not
        "empty".
        """
        snapshot = self.table(name).snapshot_as_of_timestamp(int(when.timestamp() * 1000))
        return snapshot.snapshot_id if snapshot is not None else None

    def oldest_time_kept(self, name: str) -> datetime | None:
        """The earliest time an as-of read of ``name`` answers truly, or None for any time.

        Expiry removes old snapshots and their snapshot-log entries (and the parent link of the
        oldest one left). Every commit takes the next sequence number (format v2), so when the
        oldest entry left is not the table's first commit (number 1), older history is gone and
        times before it cannot be answered; when it is, the table was empty before it.
        """
        table = self.table(name)
        history = table.history()
        if not history:
            return None
        first = table.snapshot_by_id(history[0].snapshot_id)
        if first is None or (first.sequence_number or 0) <= 1:
            return None
        return datetime.fromtimestamp(history[0].timestamp_ms / 1000, UTC)

    def replace(
        self, name: str, *, drop: list[DataFile], add: list[str], properties: dict[str, str]
    ) -> None:
        """One commit: the files ``drop`` leave the table and the files ``add`` join it.

        ``add`` are filesystem paths of complete Parquet files of FILE_SCHEMA, field ids
        included (fsynced by the caller); on a partitioned table each holds rows of one
        partition only. A file without the field ids is refused (:class:`LakeStateError`).
        """
        from pyiceberg.io.pyarrow import parquet_files_to_data_files

        with _translated(f"read the schemas of the files to commit to {name}"):
            for path in add:
                if file_field_ids(self.lake, path) != EXPECTED_FIELD_IDS:
                    raise LakeStateError(
                        f"{path} does not carry the Iceberg field ids of {name}; "
                        "refusing to commit it (written by an older offload? rerun the job)"
                    )
        table = self.table(name)
        uris = [self.lake.iceberg_uri(path) for path in add]
        with _translated(f"commit to {name}"), table.transaction() as tx:
            update = tx.update_snapshot(snapshot_properties=properties)
            with update.overwrite() as overwrite:
                for file in drop:
                    overwrite.delete_data_file(file)
                for data_file in parquet_files_to_data_files(
                    table.io, tx.table_metadata, iter(uris)
                ):
                    overwrite.append_data_file(data_file)

    def expire_snapshots(self, name: str, older_than: datetime) -> int:
        """Expire the snapshots of ``name`` older than the one current at ``older_than``.

        The snapshot that was current at ``older_than`` (the start of the retention window) is
        kept, however old, so an as-of read of any time inside the window finds its snapshot;
        the current snapshot is never expired.
        """
        table = self.table(name)
        current = table.current_snapshot()
        window_start = table.snapshot_as_of_timestamp(int(older_than.timestamp() * 1000))
        if window_start is None:
            return 0  # every snapshot is inside the window
        keep = {window_start.snapshot_id}
        if current is not None:
            keep.add(current.snapshot_id)
        old = [
            snapshot.snapshot_id
            for snapshot in table.snapshots()
            if snapshot.timestamp_ms < window_start.timestamp_ms
            and snapshot.snapshot_id not in keep
        ]
        if old:
            with _translated(f"expire snapshots of {name}"):
                table.maintenance.expire_snapshots().by_ids(old).commit()
        return len(old)

    def referenced_paths(self, name: str) -> set[str]:
        """Filesystem paths of every data file some live snapshot of ``name`` still reads."""
        paths: set[str] = set()
        for snapshot in self.table(name).snapshots():
            paths.update(self.file_paths(name, snapshot.snapshot_id))
        return paths
