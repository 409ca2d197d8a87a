"""The browser tests' Chromium (Debian's, never downloaded) and where screenshots go."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from playwright.sync_api import Page

from tests.support.stack_fixtures import SharedStack

CHROMIUM: Final = Path("/usr/bin/chromium")
CHROMIUM_ARGS: Final = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS: Final = Path(__file__).resolve().parents[1] / "artifacts"


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot under ``tests/artifacts/`` (gitignored) and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


#: Store (seeded), responder and a gateway with the demo and ops pages switched on.
PagesStack = SharedStack
