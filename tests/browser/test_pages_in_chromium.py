"""The demo page (/) and the ops page (/ops) in a real headless Chromium, against real processes.

What a person would see: the demo page shows cust-0000001's journeys exactly as the store holds
them, with a measured round trip; the ops page shows a live request rate while traffic flows and
the store's row counts, and refreshes by itself. Screenshots land in ``tests/artifacts/``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from tests.support.browser import PagesStack, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

CUSTOMER = "cust-0000001"


def _store_journeys(stack: PagesStack, status: str) -> list[dict[str, Any]]:
    with stack.stack.store_client() as store:
        rows: list[dict[str, Any]] = store.lookup([CUSTOMER], status=status).to_pylist()
    return rows


def _shown_titles(page: Page) -> dict[str, str]:
    cards = page.locator("#cards .card")
    return {
        str(card.get_attribute("data-journey-id")): card.locator(".content .title").inner_text()
        for card in cards.all()
    }


@contextmanager
def _traffic(stack: PagesStack) -> Iterator[list[int]]:
    """Lookups of 50 demo customers, over and over, from a thread until the block ends."""
    statuses: list[int] = []
    stop = threading.Event()

    def send() -> None:
        with stack.stack.http(stack.gateway) as http:
            number = 0
            while not stop.is_set():
                number = number % 50 + 1
                statuses.append(http.get(f"/v1/customers/cust-{number:07d}/journeys").status_code)

    thread = threading.Thread(target=send, name="traffic", daemon=True)
    thread.start()
    try:
        yield statuses
    finally:
        stop.set()
        thread.join(timeout=30)


def test_demo_page_shows_the_customers_journeys_as_the_store_holds_them(
    page: Page, pages_stack: PagesStack
) -> None:
    open_rows = _store_journeys(pages_stack, "open")
    all_rows = _store_journeys(pages_stack, "all")
    assert open_rows, "the demo data gives cust-0000001 open journeys"

    page.goto(f"{pages_stack.gateway.url}/")

    # The demo key is pre-filled, so the page looks the default customer up by itself.
    expect(page.locator("#apikey")).to_have_value(pages_stack.stack.api_key)
    cards = page.locator("#cards .card")
    expect(cards).to_have_count(len(open_rows))
    expect(page.locator(".resultline .count")).to_have_text(
        f"{len(open_rows)} open journeys for {CUSTOMER}"
    )
    assert _shown_titles(page) == {r["journey_id"]: r["content"]["title"] for r in open_rows}
    first = min(open_rows, key=lambda r: (r["priority"], r["journey_id"]))
    first_card = cards.first
    expect(first_card).to_have_attribute("data-journey-id", first["journey_id"])
    expect(first_card.locator(".campaign")).to_have_text(first["campaign"])
    expect(first_card.locator(".journey-name")).to_have_text(first["journey_name"])
    expect(first_card.locator(".badge")).to_have_text(first["channel"])
    expect(first_card.locator(".badge svg")).to_have_count(1)
    expect(first_card.locator(".content .body")).to_have_text(first["content"]["body"])
    expect(first_card.locator("a.cta")).to_have_attribute("href", first["content"]["cta_url"])
    rtt = page.locator("#rtt")
    expect(rtt).to_have_text(re.compile(r"^\d+\.\d ms$"))
    assert float(rtt.get_attribute("data-ms") or "0") > 0
    screenshot(page, "demo-page.png")

    page.locator("label[for=status-all]").click()

    expect(cards).to_have_count(len(all_rows))
    expect(page.locator("#cards .card.closed")).to_have_count(
        sum(r["status"] == "closed" for r in all_rows)
    )
    assert _shown_titles(page) == {r["journey_id"]: r["content"]["title"] for r in all_rows}
    assert "status=all" in page.url
    screenshot(page, "demo-page-all.png")


def test_demo_page_explains_the_apis_error_answers(page: Page, pages_stack: PagesStack) -> None:
    page.goto(f"{pages_stack.gateway.url}/")
    expect(page.locator("#cards .card").first).to_be_visible()
    error = page.locator("#error")

    page.locator("#example").select_option("cust-9999999")
    expect(error).to_have_attribute("data-status", "404")
    expect(error).to_contain_text("No journeys for this customer")
    expect(error).to_contain_text("cust-9999999")
    expect(page.locator("#rtt")).to_have_text(re.compile(r" ms$"))
    screenshot(page, "demo-page-404.png")

    page.locator("#customer").fill("no such id!")
    page.locator("#customer").press("Enter")
    expect(error).to_have_attribute("data-status", "422")
    expect(error).to_contain_text("The request is not valid")
    expect(error).to_contain_text("should match pattern")

    page.locator("#apikey").fill("not-a-key-of-this-gateway")
    page.locator("#customer").fill(CUSTOMER)
    page.locator("#go").click()
    expect(error).to_have_attribute("data-status", "401")
    expect(error).to_contain_text("The API key was refused")
    expect(error).to_contain_text("invalid API key")


@pytest.mark.parametrize(
    ("status", "title"),
    [
        (429, "The gateway is busy"),
        (503, "The service is unavailable"),
        (504, "No answer in time"),
    ],
)
def test_demo_page_explains_overload_and_outage_answers(
    page: Page, pages_stack: PagesStack, status: int, title: str
) -> None:
    # Making the real stack shed or time out on cue would stop it for the other tests; the
    # page is checked against the gateway's documented answer instead, served in its place.
    detail = f"the gateway says {status}"

    def answer(route: Route) -> None:
        route.fulfill(status=status, json={"detail": detail}, headers={"Retry-After": "1"})

    page.route("**/v1/customers/**", answer)
    page.goto(f"{pages_stack.gateway.url}/?customer={CUSTOMER}")

    error = page.locator("#error")
    expect(error).to_have_attribute("data-status", str(status))
    expect(error).to_contain_text(title)
    expect(error).to_contain_text(detail)
    expect(error).to_contain_text("Retry-After: 1 s")


def test_ops_page_shows_live_traffic_and_the_stores_rows(
    page: Page, pages_stack: PagesStack
) -> None:
    page.goto(f"{pages_stack.gateway.url}/ops")
    expect(page.locator("#live")).to_have_text("● live")

    with _traffic(pages_stack) as statuses:
        page.wait_for_function("() => Number(document.querySelector('#rate').dataset.value) > 0")
        page.wait_for_function("() => Number(document.querySelector('#p99').dataset.value) > 0")
        expect(page.locator("#p50")).to_have_text(re.compile(r"^[\d,.]+ms$"))
        # It refreshes by itself: two more updates arrive without any reload.
        seq = int(page.locator("#updated").get_attribute("data-seq") or "0")
        page.wait_for_function(
            f"() => Number(document.querySelector('#updated').dataset.seq) >= {seq + 2}"
        )
        expect(page.locator("#lag tr[data-partition]").first).to_be_visible()
        expect(page.locator("#responder-rate")).to_have_text(re.compile(r"\d"))
        screenshot(page, "ops-page.png")
    assert statuses, "the traffic thread sent lookups"
    assert set(statuses) <= {200, 404}, "404: a demo customer without open journeys"

    with pages_stack.stack.store_client() as store:
        stats = store.stats()
    expect(page.locator("#rows-open")).to_have_attribute("data-value", str(stats.rows_open))
    expect(page.locator("#rows-closed")).to_have_attribute("data-value", str(stats.rows_closed))
    expect(page.locator("#rows-open")).to_have_text(f"{stats.rows_open:,}")
    for peer in ("responder", "store"):
        expect(page.locator(f'#peers tr[data-peer="{peer}"]')).to_have_attribute("data-up", "true")
    ok_total = page.locator('#statuses tr[data-status="200"] td').nth(2)
    page.wait_for_function(
        "n => Number(document.querySelector('#statuses tr[data-status=\"200\"] td:nth-child(3)')"
        ".textContent.replace(/,/g, '')) >= n",
        arg=statuses.count(200),
    )
    expect(ok_total).not_to_have_text("0")
