"""The ``journeys`` command. Each sub-command group lives in its own module."""

from cli.app import app, main

__all__ = ["app", "main"]
