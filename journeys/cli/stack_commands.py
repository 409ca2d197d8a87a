"""CLI commands of the stack area (filled in by that area)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this area's commands to the ``journeys`` app."""
