"""``journeys up``: run the whole product locally on embedded defaults."""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.panel import Panel

from devstack import EmbeddedStack, StackError, StackSettings, make_private
from devstack.supervisor import Supervised
from journeys.kafka import BrokerNotFound

console = Console()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the stack exactly like Ctrl-C


def up(
    data_dir: Annotated[Path, typer.Option(help="Where the store and secrets live.")] = Path(
        "data"
    ),
    gateway_port: Annotated[int, typer.Option(help="HTTP API port.")] = 8000,
    broker_port: Annotated[int, typer.Option(help="Local Apache Kafka broker port.")] = 9092,
    store_port: Annotated[int, typer.Option(help="Store server (Arrow Flight) port.")] = 8815,
    store_metrics_port: Annotated[int, typer.Option(help="Store /metrics port.")] = 9102,
    responder_metrics_port: Annotated[int, typer.Option(help="Responder /metrics port.")] = 9101,
    demo_customers: Annotated[int, typer.Option(help="Customers seeded on first start.")] = 1000,
    kafka: Annotated[
        str | None, typer.Option(help="Use this external Kafka (bootstrap servers).")
    ] = None,
    store: Annotated[
        str, typer.Option(help="Local store: duckdb (store server) or postgres (data/pg).")
    ] = "duckdb",
    store_url: Annotated[str | None, typer.Option(help="Use this external store.")] = None,
    store_token: Annotated[
        str | None,
        typer.Option(help="Reader token for --store-url.", envvar="JOURNEYS_STORE_TOKEN"),
    ] = None,
    airflow: Annotated[
        bool, typer.Option(help="Also run Airflow 3 with the offload DAGs (data/airflow).")
    ] = False,
    airflow_port: Annotated[int, typer.Option(help="Airflow UI port (--airflow).")] = 8080,
) -> None:
    """Start broker, store (with demo data), responder and gateway; Ctrl-C stops them all."""
    overrides: dict[str, Any] = {
        "data_dir": data_dir,
        "gateway_port": gateway_port,
        "broker_port": broker_port,
        "store_port": store_port,
        "store_metrics_port": store_metrics_port,
        "responder_metrics_port": responder_metrics_port,
        "demo_customers": demo_customers,
        "external_kafka": kafka,
        "external_store_url": store_url,
        "external_store_token": store_token,
        "store": store,
        "airflow": airflow,
        "airflow_port": airflow_port,
    }
    if store not in ("duckdb", "postgres"):
        console.print(f"[red]error:[/] --store must be duckdb or postgres, not {store!r}")
        raise typer.Exit(2)
    settings = StackSettings(**overrides)
    # Before anything is created: tokens, the API key, the database and logs are owner-only.
    # A PostgreSQL server started as root runs as 'postgres' and must pass through data_dir.
    make_private(settings.data_dir, "logs", traversable=settings.store == "postgres")
    try:
        stack = EmbeddedStack(settings)
    except BrokerNotFound as exc:
        console.print(f"[red]error:[/] {exc}", soft_wrap=True)
        raise typer.Exit(1) from None
    _say_which_broker(stack)
    signal.signal(signal.SIGTERM, _interrupt)
    code = 0
    try:
        stack.start(on_starting=lambda name: console.print(f"[dim]starting[/] {name} …"))
        _print_ready(stack)
        dead = stack.watch(
            lambda: False,
            on_crash=_say_restarting,
        )
        if dead is not None:
            policy = stack.supervisor.policy
            console.print(
                f"[red]error:[/] {dead.name} crashed more than {policy.max_crashes} times in "
                f"{policy.window_s:.0f}s; stopping everything. See {dead.log_path}"
            )
            code = 1
    except KeyboardInterrupt:
        console.print("stopping …")
    except StackError as exc:
        console.print(f"[red]error:[/] {exc}")
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop(on_stopping=lambda name: console.print(f"[dim]stopped[/] {name}"))
    raise typer.Exit(code)


def _say_restarting(child: Supervised, code: int, backoff_s: float) -> None:
    console.print(
        f"[yellow]{child.name} exited with code {code}; restarting in {backoff_s:.1f}s[/] "
        f"(log: {child.log_path})"
    )


def _say_which_broker(stack: EmbeddedStack) -> None:
    if stack.broker is None:
        console.print(f"Kafka: external, {stack.bootstrap_servers}")
        return
    broker = stack.broker
    console.print(f"Kafka: Apache Kafka {broker.version} (KRaft, one node) on {broker.port}")


def _print_ready(stack: EmbeddedStack) -> None:
    urls = stack.urls
    lines = [
        f"API        {urls.api}",
        f"API docs   {urls.docs}",
        f"Demo page  {urls.api}/",
        f"Ops page   {urls.api}/ops",
        f"API key    {urls.api_key}",
        f"Logs       {stack.logs}",
    ]
    if stack.airflow is not None:
        lines += [
            f"Airflow    {stack.airflow.url}",
            f"  login    admin / {stack.secrets.airflow_password}",
            f"  lake     {stack.data_dir / 'lake'} (journeys sql reads it)",
        ]
    console.print(Panel("\n".join(lines), title="journeys is up", expand=False))
    console.print("Try it (Ctrl-C stops everything):")
    # Plain print: rich would wrap a long line, and this one is meant to be pasted whole.
    print(urls.curl, flush=True)


def register(app: typer.Typer) -> None:
    """Add ``journeys up`` to the app."""
    app.command()(up)
