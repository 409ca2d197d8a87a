"""CLI commands of the offload area.

``journeys offload nightly`` / ``journeys offload housekeeping`` run the jobs with progress bars
and a summary; ``journeys offload migrate`` imports the old Parquet layout into the Iceberg
tables and rewrites data files without Iceberg field ids; ``journeys catalog`` writes the
analysts' DuckDB catalog; ``journeys sql`` runs a query against it (``--as-of`` against the
tables' snapshots of a past moment). The jobs' settings come from ``JOURNEYS_OFFLOAD_*`` (see
``OffloadSettings``); ``catalog`` and ``sql`` read the lake only (``--lake``,
``JOURNEYS_OFFLOAD_LAKE_URI``, or ``./lake`` / ``journeys up``'s ``data/lake``; see
``offload.find_lake``) and need no store settings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from cli.errors import fail, first_settings_error

if TYPE_CHECKING:
    from offload import JobSummary, LakeSettings, OffloadSettings

offload_app = typer.Typer(
    help="Offload the store to the Iceberg tables (nightly snapshot, weekend housekeeping).",
    no_args_is_help=True,
)
_out = Console()

_AS_OF_FORMATS = [
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d",
]

RunDate = Annotated[
    datetime | None,
    typer.Option("--date", formats=["%Y-%m-%d"], help="Run date (default: today, UTC)."),
]


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """Turn the errors a user can act on into one line and exit code 1 (no traceback)."""
    from offload import OffloadError
    from store import StoreError

    try:
        yield
    except ValidationError as exc:
        problem = first_settings_error(exc)
        raise fail(f"invalid offload settings (JOURNEYS_OFFLOAD_*): {problem}") from None
    except StoreError as exc:
        raise fail(f"store: {exc}") from None
    except OffloadError as exc:
        raise fail(str(exc)) from None


def _settings() -> OffloadSettings:
    from offload import OffloadSettings

    return OffloadSettings()


def _lake_settings(lake: str | None) -> LakeSettings:
    """The lake the analysts' commands read; the local stack's ``data/lake`` is searched too."""
    from devstack import StackSettings
    from offload import find_lake

    return find_lake(lake, search=[StackSettings().data_dir / "lake"])


LakeOption = Annotated[
    str | None,
    typer.Option(
        "--lake",
        help="The lake (a directory or URI). Default: JOURNEYS_OFFLOAD_LAKE_URI, else ./lake "
        "or journeys up's data/lake. No store settings are needed.",
    ),
]


class _RichObserver:
    """Draws one progress bar per step of a job."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def step(self, name: str, total: int | None) -> None:
        self._complete()
        self.task = self.progress.add_task(name, total=total)

    def advance(self, rows: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, rows)

    def checkpoint(self, name: str) -> None:
        self._complete()

    def _complete(self) -> None:
        if self.task is not None:
            task = self.progress.tasks[self.task]
            total = task.total if task.total is not None else task.completed or 1
            self.progress.update(self.task, total=total, completed=total)


def _run_with_progress(job: Callable[[_RichObserver], JobSummary]) -> JobSummary:
    columns = (
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=_out, transient=False) as progress:
        observer = _RichObserver(progress)
        summary = job(observer)
        observer.checkpoint("done")
    return summary


def _print_summary(summary: JobSummary) -> None:
    table = Table(title=f"offload {summary.job}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    table.add_row("rows", f"{summary.rows:,}")
    table.add_row("bytes", f"{summary.bytes:,} ({summary.bytes / 1e6:,.1f} MB)")
    table.add_row("seconds", f"{summary.seconds:,.2f}")
    table.add_row("rows/s", f"{summary.rows_per_s:,.0f}")
    table.add_row("MB/s", f"{summary.mb_per_s:,.1f}")
    for key, value in summary.details.items():
        table.add_row(key.replace("_", " "), str(value))
    _out.print(table)


def _as_date(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


@offload_app.command("nightly")
def nightly(
    run_date: RunDate = None,
    force: Annotated[
        bool, typer.Option(help="Take a fresh snapshot even if this date is published.")
    ] = False,
) -> None:
    """Snapshot the whole store to journeys_current: write → audit → publish → clean."""
    from offload import run_nightly

    with _one_line_errors():
        settings = _settings()
        summary = _run_with_progress(
            lambda observer: run_nightly(
                settings, _as_date(run_date), force=force, observer=observer
            )
        )
    _print_summary(summary)


@offload_app.command("housekeeping")
def housekeeping(run_date: RunDate = None) -> None:
    """Move closed journeys from the store to journeys_closed: write → audit → commit → purge."""
    from offload import run_housekeeping

    with _one_line_errors():
        settings = _settings()
        summary = _run_with_progress(
            lambda observer: run_housekeeping(settings, _as_date(run_date), observer=observer)
        )
    _print_summary(summary)


@offload_app.command("migrate")
def migrate() -> None:
    """Import the old Parquet lake layout into the Iceberg tables and check the counts; rewrite
    data files without Iceberg field ids (one commit per table)."""
    from offload import migrate_parquet_lake

    with _one_line_errors():
        report = migrate_parquet_lake(_settings())
    if report.renamed_open_table:
        _out.print(
            "journeys_open → journeys_current: the nightly table renamed (history kept); "
            "the next nightly run fills it with the whole store"
        )
    _out.print(
        f"journeys_open: {report.open_rows:,} rows in the old layout, "
        f"{report.open_table_rows:,} in the table journeys_current\n"
        f"journeys_closed: {report.closed_rows:,} rows in the old layout, "
        f"{report.closed_table_rows:,} in the table"
        + (" (already migrated)" if report.already_migrated else "")
    )
    for name, files in report.rewritten_files.items():
        done = f"{files:,} data files rewritten with" if files else "every data file carries"
        _out.print(f"{name}: {done} Iceberg field ids")


def catalog(lake: LakeOption = None) -> None:
    """Write the analysts' DuckDB catalog (views journeys_open, _closed, _all, _current)."""
    from offload import build_catalog

    with _one_line_errors():
        info = build_catalog(_lake_settings(lake), create=False)
    _out.print(
        f"catalog {info.path}: journeys_current ({info.current_files} files), "
        f"journeys_closed ({info.closed_files} files), journeys_open, journeys_all"
    )


def _cell(value: Any) -> str:
    return "NULL" if value is None else str(value)


def sql(
    query: Annotated[str, typer.Argument(help="A SQL query over the catalog's views.")],
    limit: Annotated[int, typer.Option(min=1, help="Print at most this many rows.")] = 100,
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of",
            formats=_AS_OF_FORMATS,
            help="Query the tables as they were at this time (UTC unless an offset is given).",
        ),
    ] = None,
    lake: LakeOption = None,
) -> None:
    """Run a SQL query against the analysts' catalog and print the result as a table.

    Without a catalog file (``journeys catalog`` not run yet) the query reads the tables'
    current snapshots straight from the lake.
    """
    from offload import catalog_path, query_as_of, run_query

    with _one_line_errors():
        settings = _lake_settings(lake)
        path = catalog_path(settings)
        if as_of is None and path.exists():
            result = run_query(path, query)
        else:
            when = None
            if as_of is not None:
                when = as_of if as_of.tzinfo is not None else as_of.replace(tzinfo=UTC)
            result = query_as_of(settings, query, when)
    table = Table(caption=f"{result.num_rows:,} rows")
    for name in result.column_names:
        table.add_column(name, overflow="fold")
    for row in result.slice(0, limit).to_pylist():
        table.add_row(*(_cell(value) for value in row.values()))
    _out.print(table)
    if result.num_rows > limit:
        _out.print(f"(first {limit} of {result.num_rows:,} rows shown; use --limit)")


def register(app: typer.Typer) -> None:
    """Add this area's commands to the ``journeys`` app."""
    app.add_typer(offload_app, name="offload")
    app.command("catalog")(catalog)
    app.command("sql")(sql)
