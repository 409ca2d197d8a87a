"""The lake wrapper: atomic writes, listings that skip temporary files, error translation."""

from __future__ import annotations

from pathlib import Path

import pytest

from offload import Lake, LakeError
from offload.lake import is_temporary


def test_write_json_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    lake.write_json(lake.path("t", "_current.json"), {"n": 1})
    lake.write_json(lake.path("t", "_current.json"), {"n": 2})
    assert lake.read_json(lake.path("t", "_current.json")) == {"n": 2}
    assert sorted(p.name for p in (tmp_path / "lake" / "t").iterdir()) == ["_current.json"]


def test_a_failed_atomic_write_leaves_neither_file_nor_temporary(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    target = lake.path("d", "part-0.parquet")

    def crash_while_writing() -> None:
        with lake.atomic_path(target) as tmp:
            Path(tmp).write_bytes(b"partial")
            raise RuntimeError("crash while writing")

    with pytest.raises(RuntimeError):
        crash_while_writing()
    assert list((tmp_path / "d").iterdir()) == []


def test_temporary_files_are_hidden_from_listings_and_deleted_on_request(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "part-0.parquet").write_bytes(b"x")
    (tmp_path / "d" / ".part-1.parquet.tmp-abc").write_bytes(b"x")
    assert is_temporary(".part-1.parquet.tmp-abc")
    lake.delete_temporary(lake.path("d"))
    assert lake.list_dir(lake.path("d"), dirs=False) == ["part-0.parquet"]


def test_file_uri_is_a_local_lake(tmp_path: Path) -> None:
    lake = Lake(f"file://{tmp_path}/lake")
    assert lake.is_local
    assert lake.engine_uri(lake.path("x")) == f"{tmp_path}/lake/x"


def test_reading_a_missing_json_file_gives_none(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    assert lake.read_json(lake.path("nothing.json")) is None
    assert lake.list_dir(lake.path("no-such-dir"), dirs=True) == []


def test_an_unusable_lake_raises_lake_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(LakeError, match="cannot open lake"):
        Lake(str(blocker / "lake"))
    with pytest.raises(LakeError):
        Lake("nosuchscheme://bucket/lake")
