"""CLI commands of the store area: ``store serve``, ``load`` and ``seed``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from pydantic import SecretStr, ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cli.errors import fail, first_settings_error
from journeys.secrets import url_without_password

# Store modules are imported inside the commands: every process (the gateway too) builds this
# CLI, and the gateway's process must never load store code (a test checks sys.modules).
if TYPE_CHECKING:
    from store import JourneyStore

store_app = typer.Typer(help="The journey store server.", no_args_is_help=True)
err = Console(stderr=True)
out = Console()

URL_OPTION = typer.Option(
    "grpc://127.0.0.1:8815", "--store-url", envvar="JOURNEYS_STORE_URL", help="Store location."
)
TOKEN_OPTION = typer.Option(
    ..., "--token", envvar="JOURNEYS_STORE_TOKEN", help="Writer token.", show_default=False
)
ROOT_CERT_OPTION = typer.Option(
    None, "--tls-root-cert", envvar="JOURNEYS_STORE_TLS_ROOT_CERT", help="CA of a TLS store."
)


def _settings_error(exc: ValidationError) -> str:
    return f"invalid setting {first_settings_error(exc)}"


@contextmanager
def _client(url: str, token: str, root_cert: Path | None) -> Iterator[JourneyStore]:
    from store import StoreClientSettings, StoreError

    try:
        settings = StoreClientSettings(url=url, token=SecretStr(token), tls_root_cert=root_cert)
    except ValidationError as exc:
        raise fail(_settings_error(exc)) from None
    with settings.connect() as client:
        try:
            client.health()
        except StoreError as exc:
            shown = url_without_password(url)
            raise fail(f"store at {shown} not reachable: {str(exc).replace(url, shown)}") from None
        yield client


@store_app.command("serve")
def serve(
    db: Path | None = typer.Option(None, help="DuckDB database file (env JOURNEYS_STORE_DB)."),
    host: str | None = typer.Option(None, help="Interface to bind (env JOURNEYS_STORE_HOST)."),
    port: int | None = typer.Option(None, help="Flight port (env JOURNEYS_STORE_PORT)."),
    metrics_port: int | None = typer.Option(None, help="Prometheus port; 0 = off."),
) -> None:
    """Run the store server (tokens, TLS and tuning from JOURNEYS_STORE_* variables)."""
    from journeys.observability import configure_logging, configure_tracing
    from store import StoreServerSettings
    from store import serve as run

    overrides: dict[str, Any] = {
        key: value
        for key, value in {
            "db": db,
            "host": host,
            "port": port,
            "metrics_port": metrics_port,
        }.items()
        if value is not None
    }
    try:
        settings = StoreServerSettings(**overrides)
    except ValidationError as exc:
        raise fail(_settings_error(exc)) from None
    configure_logging(settings.log_level, "store", secrets=settings.role_tokens())
    configure_tracing("store")
    try:
        run(settings)
    except OSError as exc:
        raise fail(f"cannot serve: {exc}") from None


@store_app.command("init")
def init(
    url: str = typer.Option(
        ..., "--url", envvar="JOURNEYS_STORE_URL", help="Store URL (postgresql://owner@host/db)."
    ),
    password: str = typer.Option(
        "",
        "--password",
        envvar="JOURNEYS_STORE_PASSWORD",
        help="Owner's password (or libpq's PGPASSWORD/PGPASSFILE).",
        show_default=False,
    ),
    partitions: int = typer.Option(16, min=1, help="Hash partitions by customer_id (new table)."),
) -> None:
    """Create or migrate the store's schema (idempotent; forward-only migrations)."""
    from store import StoreError, init_store

    try:
        applied = init_store(url, password, partitions=partitions)
    except (StoreError, ValueError) as exc:
        raise fail(f"store init failed: {exc}") from None
    if applied:
        out.print(f"store schema migrated to version {applied[-1]} (applied {applied})")
    else:
        out.print("store schema is up to date")


def load(
    files: list[Path] = typer.Argument(..., help="Parquet, CSV or JSON-lines files."),
    store_url: str = URL_OPTION,
    token: str = TOKEN_OPTION,
    tls_root_cert: Path | None = ROOT_CERT_OPTION,
    rejects: Path | None = typer.Option(
        None, help="Write all rejected rows here (default: <file>.rejects.jsonl per file)."
    ),
    allow_rejects: bool = typer.Option(False, help="Exit 0 even when rows were rejected."),
    batch_rows: int = typer.Option(50_000, min=1, help="Rows per upsert batch."),
) -> None:
    """Validate and load journeys into the store; bad rows go to a rejects file."""
    from store import LoaderError, StoreError, load_files

    for path in files:
        if not path.is_file():
            raise fail(f"file not found: {path}")
    with _client(store_url, token, tls_root_cert) as client, _progress() as progress:
        task = progress.add_task("loading", total=None)
        try:
            summary = load_files(
                files,
                client,
                rejects=rejects,
                batch_rows=batch_rows,
                on_rows=lambda n: progress.advance(task, n),
            )
        except (LoaderError, StoreError, OSError) as exc:
            raise fail(str(exc)) from None
    out.print(f"loaded {summary.loaded} rows, rejected {summary.rejected} rows")
    for path in summary.rejects_files:
        out.print(f"rejected rows with reasons: {path}")
    if summary.rejected and not allow_rejects:
        raise typer.Exit(1)


def seed(
    customers: int = typer.Option(..., min=1, help="Number of demo customers (~5 journeys each)."),
    seed_value: int = typer.Option(42, "--seed", help="Random seed (same seed, same data)."),
    start: int = typer.Option(1, min=1, help="First customer number."),
    store_url: str = URL_OPTION,
    token: str = TOKEN_OPTION,
    tls_root_cert: Path | None = ROOT_CERT_OPTION,
) -> None:
    """Load deterministic demo journeys into the store (writer token)."""
    from store import StoreError, generate_journeys

    total = 0
    with _client(store_url, token, tls_root_cert) as client, _progress() as progress:
        task = progress.add_task("seeding customers", total=customers)
        try:
            for table in generate_journeys(customers, seed=seed_value, start=start,
                                           batch_customers=20_000):  # fmt: skip
                total += client.upsert(table)
                progress.advance(task, len(set(table.column("customer_id").to_pylist())))
        except StoreError as exc:
            raise fail(str(exc)) from None
    out.print(f"seeded {total} journeys for {customers} customers")


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )


def register(app: typer.Typer) -> None:
    """Add this area's commands to the ``journeys`` app."""
    app.add_typer(store_app, name="store")
    app.command("load")(load)
    app.command("seed")(seed)
