"""Writing journeys to Parquet and auditing the files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from journeys.schema import JOURNEY_SCHEMA
from offload import AuditFailed, Lake, LakeError, OffloadError
from offload.field_ids import FILE_SCHEMA
from offload.parquet_io import ParquetOptions, audit_files, conform, write_batches
from tests.support.offload_lake import by_key, demo_rows

OPTIONS = ParquetOptions(row_group_size=1_000, compression="zstd", compression_level=1)


def _write(lake: Lake, table: pa.Table, names: list[str]) -> list[str]:
    write_batches(lake, lake.path("snap"), names, table.to_batches(max_chunksize=97), OPTIONS)
    return [lake.path("snap", name) for name in names]


def test_written_files_carry_exactly_the_journey_schema_and_all_rows(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    rows = demo_rows(300)
    paths = _write(lake, rows, ["part-0.parquet", "part-1.parquet"])
    for path in paths:
        assert pq.read_schema(path).equals(FILE_SCHEMA, check_metadata=True)
        assert pq.read_schema(path).equals(JOURNEY_SCHEMA)  # the same, field ids aside
        assert pq.read_metadata(path).row_group(0).column(0).compression == "ZSTD"
    written = pa.concat_tables(pq.read_table(path) for path in paths)
    assert by_key(written) == by_key(rows)


def test_rows_are_grouped_into_row_groups_of_the_configured_size(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    rows = demo_rows(800)
    (path,) = _write(lake, rows, ["part-0.parquet"])
    metadata = pq.read_metadata(path)
    sizes = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    assert sum(sizes) == rows.num_rows
    assert max(sizes) <= OPTIONS.row_group_size
    assert min(sizes[:-1], default=OPTIONS.row_group_size) >= OPTIONS.row_group_size // 2


def test_audit_passes_on_a_faithful_write(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    rows = demo_rows(50)
    report = audit_files(lake, _write(lake, rows, ["part-0.parquet"]), rows.num_rows)
    assert (report.rows, report.distinct_keys) == (rows.num_rows, rows.num_rows)


def test_audit_fails_when_the_row_count_differs_from_the_snapshot(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    rows = demo_rows(50)
    paths = _write(lake, rows, ["part-0.parquet"])
    with pytest.raises(AuditFailed, match="rows written"):
        audit_files(lake, paths, rows.num_rows + 1)


def test_audit_fails_on_a_duplicate_primary_key(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    rows = demo_rows(50)
    doubled = pa.concat_tables([rows, rows.slice(0, 1)])
    paths = _write(lake, doubled, ["part-0.parquet"])
    with pytest.raises(AuditFailed, match="primary key not unique"):
        audit_files(lake, paths, doubled.num_rows)


def test_audit_fails_on_a_file_with_another_schema(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    rows = demo_rows(10)
    path = str(tmp_path / "other.parquet")
    pq.write_table(rows.drop_columns(["attributes"]), path)
    with pytest.raises(AuditFailed, match="schema differs"):
        audit_files(lake, [path], rows.num_rows)


def test_conform_refuses_batches_of_other_types() -> None:
    rows = demo_rows(3)
    wrong = rows.set_column(4, "step", pa.array([str(v) for v in rows["step"].to_pylist()]))
    with pytest.raises(OffloadError, match="does not match"):
        conform(wrong.to_batches()[0])
    relabelled = conform(rows.replace_schema_metadata(None).to_batches()[0])
    assert relabelled.schema.equals(JOURNEY_SCHEMA, check_metadata=True)


def test_a_file_whose_close_fails_does_not_stop_the_others_from_closing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A close that fails (the footer's upload, say) is a LakeError, every other file is still
    finished, and the failed writer is never closed again by its finaliser."""
    created: list[pq.ParquetWriter] = []

    class Recording(pq.ParquetWriter):  # type: ignore[misc]  # untyped base
        def __init__(self, where: str, *args: Any, **kwargs: Any) -> None:
            super().__init__(where, *args, **kwargs)
            created.append(self)

        def close(self) -> None:
            if "part-0" in str(self.where):
                raise OSError("upload of the footer failed")
            super().close()

    monkeypatch.setattr(pq, "ParquetWriter", Recording)  # what offload.parquet_io calls
    lake = Lake(str(tmp_path))
    with pytest.raises(LakeError, match="upload of the footer failed"):
        _write(lake, demo_rows(300), ["part-0.parquet", "part-1.parquet", "part-2.parquet"])
    assert len(created) == 3
    assert not any(writer.is_open for writer in created)
