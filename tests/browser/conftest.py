"""Fixtures of the browser tests: a real headless Chromium (Debian's) and a demo-enabled stack.

Playwright drives ``/usr/bin/chromium``; it never downloads a browser. Its sync API runs its own
event loop and marks it running between calls, so the browser is opened per test and closed
before any async test of the session needs pytest-asyncio's loop.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, sync_playwright

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, PagesStack
from tests.support.kafka_fixtures import KafkaBroker
from tests.support.stack_fixtures import ProcessStack


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless; the test is skipped (with the reason) when it is absent."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is not installed (apt-get install chromium; .ci/run installs it), "
            "so the pages cannot be checked in a real browser"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page; any JavaScript error or failed same-origin load fails the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 960})
    context.set_default_timeout(20_000)
    page = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # The browser logs every non-2xx fetch; those are answers the page shows on purpose.
        if message.type == "error" and "the server responded with a status" not in message.text:
            problems.append(f"console: {message.text} at {message.location.get('url')}")

    def on_page_error(error: Error) -> None:
        problems.append(f"page error: {error}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    try:
        yield page
        # Only what happened during the test: servers other fixtures stop afterwards would make
        # a still-polling page log failed loads (Playwright delivers events on its next call).
        during_test = list(problems)
    finally:
        context.close()
    assert during_test == [], during_test


@pytest.fixture(scope="module")
def pages_stack(
    kafka_broker: KafkaBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PagesStack]:
    """Real processes, as ``journeys up`` wires them: demo key pre-filled, both peers scraped."""
    stack = ProcessStack(kafka_broker, tmp_path_factory.mktemp("pages"))
    try:
        stack.start_store()
        stack.seed(200)
        responder = stack.start_responder()
        peers = {"responder": responder.metrics_url, "store": stack.store_metrics_url}
        gateway = stack.start_gateway(
            JOURNEYS_GATEWAY_DEMO_PAGES="true",
            JOURNEYS_GATEWAY_DEMO_API_KEY=stack.api_key,
            JOURNEYS_GATEWAY_OPS_PEERS=json.dumps(peers),
        )
        yield PagesStack(stack, gateway, responder)
    finally:
        stack.close()
