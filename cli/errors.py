"""How every command fails: one clear line on stderr, exit code 1, no traceback."""

from __future__ import annotations

import typer
from pydantic import ValidationError
from rich.console import Console

_err = Console(stderr=True)


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` as one line (never wrapped) and return the exit to raise."""
    _err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=1)


def first_settings_error(exc: ValidationError) -> str:
    """The first problem of invalid settings as ``field.path: message``."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "settings"
    return f"{where}: {first['msg']}"
