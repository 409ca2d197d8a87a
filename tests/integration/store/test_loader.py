"""``journeys load`` against the real store (both backends): good rows loaded, every bad row
in the rejects file."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest

from tests.support.journey_rows import journey_row, journeys_table
from tests.support.processes import free_port, journeys_command
from tests.support.store_fixtures import AnyStore, unique_prefix

pytestmark = pytest.mark.integration


def _as_text(row: dict[str, Any]) -> dict[str, str]:
    """A journey as CSV/JSON text fields (timestamps ISO-8601, objects as JSON)."""
    text: dict[str, str] = {}
    for key, value in row.items():
        if value is None:
            text[key] = ""
        elif hasattr(value, "isoformat"):
            text[key] = value.isoformat()
        elif isinstance(value, dict):
            text[key] = orjson.dumps(value).decode()
        else:
            text[key] = str(value)
    return text


def _run_load(server: AnyStore, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        journeys_command("load", *args, "--store-url", server.url_for("writer")),
        env={"JOURNEYS_STORE_TOKEN": server.tokens["writer"], "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _rejects(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_loader_rejects_file_holds_exactly_the_bad_rows(
    any_store: AnyStore, tmp_path: Path
) -> None:
    prefix = unique_prefix()
    rows = [_as_text(journey_row(f"{prefix}-{i}", "j-1")) for i in range(6)]
    rows[1]["status"] = "pending"
    rows[3]["customer_id"] = "bad id with spaces"
    rows[4]["priority"] = "high"
    source = tmp_path / "journeys.csv"
    with source.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    result = _run_load(any_store, str(source))

    assert result.returncode == 1, result.stderr
    assert "loaded 3 rows, rejected 3 rows" in result.stdout
    rejects = _rejects(source.with_name("journeys.csv.rejects.jsonl"))
    assert [(r["row"], r["column"]) for r in rejects] == [
        (2, "status"), (4, "customer_id"), (5, "priority")
    ]  # fmt: skip
    assert [r["record"]["customer_id"] for r in rejects] == [
        f"{prefix}-1", "bad id with spaces", f"{prefix}-4"
    ]  # fmt: skip
    with any_store.client("reader") as reader:
        loaded = reader.lookup([f"{prefix}-{i}" for i in range(6)])
    assert sorted(loaded["customer_id"].to_pylist()) == [f"{prefix}-{i}" for i in (0, 2, 5)]


def test_loader_reads_json_lines_and_parquet_and_allows_rejects_when_asked(
    any_store: AnyStore, tmp_path: Path
) -> None:
    prefix = unique_prefix()
    good = journey_row(f"{prefix}-a", "j-1", attributes='{"tier": "gold"}')
    lines = [orjson.dumps(_as_text(good)), b"{not json", orjson.dumps({"customer_id": "x"})]
    jsonl = tmp_path / "more.jsonl"
    jsonl.write_bytes(b"\n".join(lines) + b"\n")
    parquet = tmp_path / "more.parquet"
    pq.write_table(journeys_table([journey_row(f"{prefix}-b", "j-1")]), parquet)
    rejects = tmp_path / "all-rejects.jsonl"

    result = _run_load(
        any_store, str(jsonl), str(parquet), "--rejects", str(rejects), "--allow-rejects"
    )

    assert result.returncode == 0, result.stderr
    assert "loaded 2 rows, rejected 2 rows" in result.stdout
    assert [(r["file"], r["row"]) for r in _rejects(rejects)] == [(str(jsonl), 2), (str(jsonl), 3)]
    with any_store.client("reader") as reader:
        assert reader.lookup([f"{prefix}-a", f"{prefix}-b"]).num_rows == 2


def test_loader_missing_file_prints_one_line_without_traceback(
    any_store: AnyStore, tmp_path: Path
) -> None:
    result = _run_load(any_store, str(tmp_path / "nope.csv"))
    assert result.returncode != 0
    assert "file not found" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize("scheme", ["grpc://", "postgresql://journeys_writer@"])
def test_loader_unreachable_store_prints_one_line_without_traceback(
    tmp_path: Path, scheme: str
) -> None:
    source = tmp_path / "one.csv"
    source.write_text("customer_id\nc1\n")
    url = f"{scheme}127.0.0.1:{free_port()}" + ("/journeys" if "postgres" in scheme else "")
    result = subprocess.run(
        journeys_command("load", str(source), "--store-url", url),
        env={"JOURNEYS_STORE_TOKEN": "a-real-looking-token-123456", "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "not reachable" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
