"""``journeys up`` serves both pages, wired as a new user gets them: key pre-filled, peers read."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from devstack import free_up_ports
from store import StoreClient
from tests.support.browser import screenshot
from tests.support.cli_process import LineReader
from tests.support.processes import journeys_command

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


@dataclass(frozen=True)
class UpStack:
    url: str
    data_dir: Path
    store_port: int


@pytest.fixture
def journeys_up(tmp_path: Path) -> Iterator[UpStack]:
    """``journeys up`` with 200 demo customers on free ports, stopped after the test."""
    ports = free_up_ports()
    data_dir = tmp_path / "data"
    args = ["up", "--data-dir", str(data_dir), "--demo-customers", "200"]
    for option, port in ports.items():
        args += [f"--{option}", str(port)]
    up = LineReader(journeys_command(*args))
    try:
        up.wait_for_line("curl ", timeout=180)
        yield UpStack(f"http://127.0.0.1:{ports['gateway-port']}", data_dir, ports["store-port"])
    except BaseException:
        up.kill()
        raise
    assert up.terminate() == 0, "\n".join(up.seen)


def test_journeys_up_serves_the_demo_and_ops_pages(page: Page, journeys_up: UpStack) -> None:
    url, data_dir = journeys_up.url, journeys_up.data_dir
    secrets = json.loads((data_dir / "stack.json").read_text())
    with httpx.Client(base_url=url, headers={"X-API-Key": secrets["api_key"]}) as http:
        api = http.get("/v1/customers/cust-0000001/journeys", timeout=10).json()

    page.goto(f"{url}/")

    expect(page.locator("#apikey")).to_have_value(secrets["api_key"])
    cards = page.locator("#cards .card")
    expect(cards).to_have_count(len(api["journeys"]))
    expect(cards.first.locator(".content .title")).to_have_text(
        api["journeys"][0]["content"]["title"]
    )
    expect(page.locator("#rtt")).to_have_text(re.compile(r"^\d+\.\d ms$"))
    screenshot(page, "journeys-up-demo-page.png")

    page.goto(f"{url}/ops")

    expect(page.locator("#live")).to_have_text("● live")
    with httpx.Client(base_url=url, headers={"X-API-Key": secrets["api_key"]}) as http:
        for number in range(1, 31):
            http.get(f"/v1/customers/cust-{number:07d}/journeys", timeout=10)
    page.wait_for_function("() => Number(document.querySelector('#rate').dataset.value) > 0")
    for peer in ("responder", "store"):
        expect(page.locator(f'#peers tr[data-peer="{peer}"]')).to_have_attribute("data-up", "true")
    store_url = f"grpc://127.0.0.1:{journeys_up.store_port}"
    with StoreClient(store_url, secrets["reader_token"]) as store:
        stats = store.stats()
    assert stats.rows_open > 0
    expect(page.locator("#rows-open")).to_have_attribute("data-value", str(stats.rows_open))
    expect(page.locator("#rows-closed")).to_have_attribute("data-value", str(stats.rows_closed))
    screenshot(page, "journeys-up-ops-page.png")
