"""Builds the ``journeys`` Typer app from the per-area command modules."""

from __future__ import annotations

from typing import Annotated

import typer

from cli import (
    gateway_commands,
    offload_commands,
    responder_commands,
    stack_commands,
    store_commands,
)
from journeys import __version__

app = typer.Typer(
    name="journeys",
    help="Journey lookup over Kafka: store, gateway, responder, offload.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(requested: bool) -> None:
    if requested:
        typer.echo(f"journeys {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the installed version and exit.",
        ),
    ] = False,
) -> None:
    """Journey lookup over Kafka: store, gateway, responder, offload."""


store_commands.register(app)
stack_commands.register(app)
offload_commands.register(app)
gateway_commands.register(app)
responder_commands.register(app)


def main() -> None:
    """Console entry point."""
    app()
