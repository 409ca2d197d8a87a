"""CLI commands of the gateway area: ``journeys gateway serve`` and ``journeys lookup``."""

from __future__ import annotations

from typing import Annotated, Any, Final

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from cli.errors import fail
from journeys.contract import StatusFilter

#: How uvicorn serves the gateway (bench/direct_app.py serves the baseline the same way).
SERVER_OPTIONS: Final[dict[str, Any]] = {"loop": "uvloop", "http": "httptools", "access_log": False}

gateway_app = typer.Typer(help="The HTTP gateway (FastAPI in the DMZ).", no_args_is_help=True)


@gateway_app.command("serve")
def serve() -> None:
    """Serve the gateway with uvicorn (settings from JOURNEYS_GATEWAY_* and JOURNEYS_KAFKA_*)."""
    import uvicorn

    from api import GatewaySettings, create_app
    from journeys.observability import configure_logging, configure_tracing

    try:
        settings = GatewaySettings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "settings"
        raise fail(f"invalid gateway settings: {where}: {first['msg']}") from None
    secrets = [key.get_secret_value() for key in settings.api_keys]
    if settings.kafka.sasl_password is not None:
        secrets.append(settings.kafka.sasl_password.get_secret_value())
    try:
        configure_logging(settings.log_level, "gateway", secrets=secrets)
    except ValueError as exc:
        raise fail(f"invalid gateway settings: log_level: {exc}") from None
    configure_tracing("gateway")
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        **SERVER_OPTIONS,
        log_level=settings.log_level.lower(),
        log_config=None,  # keep the JSON handlers configure_logging installed
    )


def lookup(
    customer_id: Annotated[str, typer.Argument(help="The customer whose journeys to show.")],
    status: Annotated[StatusFilter, typer.Option(help="open, closed or all.")] = StatusFilter.OPEN,
    url: Annotated[
        str, typer.Option(envvar="JOURNEYS_API_URL", help="Gateway base URL.")
    ] = "http://127.0.0.1:8000",
    api_key: Annotated[
        str | None, typer.Option(envvar="JOURNEYS_API_KEY", help="An X-API-Key of the gateway.")
    ] = None,
) -> None:
    """Ask the gateway for a customer's journeys and print them as a table."""
    from cli.gateway_client import LookupFailed, fetch_customer_journeys

    if not api_key:
        raise fail("no API key: pass --api-key or set JOURNEYS_API_KEY")
    try:
        body = fetch_customer_journeys(customer_id, base_url=url, api_key=api_key, status=status)
    except LookupFailed as exc:
        raise fail(str(exc)) from None
    journeys = body.get("journeys", [])
    table = Table(title=f"{len(journeys)} {status.value} journeys of {customer_id}")
    for column in ("priority", "journey", "campaign", "name", "step", "channel", "title", "valid"):
        table.add_column(column, overflow="fold")
    for journey in journeys:
        valid = f"{journey['valid_from']} → {journey.get('valid_to') or '…'}"
        table.add_row(
            str(journey["priority"]),
            journey["journey_id"],
            journey["campaign"],
            journey["journey_name"],
            str(journey["step"]),
            journey["channel"],
            journey["content"]["title"],
            valid,
        )
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the ``journeys`` app."""
    app.add_typer(gateway_app, name="gateway")
    app.command("lookup")(lookup)
