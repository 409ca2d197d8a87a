"""``journeys up --airflow``: the Airflow UI shows both DAGs and a nightly run triggered there
fills the Iceberg table ``journeys_current`` with the store, whose open journeys (the view
``journeys_open``) ``journeys sql`` then counts with no store setting, from where
``journeys up`` was started."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, Response, expect

from devstack import free_up_ports
from store import StoreClient
from tests.support.browser import screenshot
from tests.support.cli_process import LineReader
from tests.support.offload_lake import offload_settings, open_table
from tests.support.processes import journeys_command

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.airflow]

NIGHTLY, WEEKEND = "journeys_nightly_offload", "journeys_weekend_housekeeping"
_RUN_TIMEOUT_S = 300


@dataclass(frozen=True)
class AirflowUp:
    url: str
    password: str
    data_dir: Path
    store_port: int


@pytest.fixture
def journeys_up_airflow(tmp_path: Path) -> Iterator[AirflowUp]:
    """``journeys up --airflow`` on free ports with 200 demo customers, stopped after the test."""
    ports = free_up_ports()
    data_dir = tmp_path / "data"
    args = ["up", "--data-dir", str(data_dir), "--demo-customers", "200", "--airflow"]
    for option, port in ports.items():
        args += [f"--{option}", str(port)]
    up = LineReader(journeys_command(*args))
    try:
        up.wait_for_line("curl ", timeout=900)  # Airflow's migration is slow on a busy box
        seen = "\n".join(up.seen)
        url = re.search(r"Airflow\s+(http://127\.0\.0\.1:\d+)", seen)
        login = re.search(r"login\s+admin / (\S+)", seen)
        assert url is not None, seen
        assert login is not None, seen
        assert url.group(1) == f"http://127.0.0.1:{ports['airflow-port']}"
        yield AirflowUp(url.group(1), login.group(1), data_dir, ports["store-port"])
    except BaseException:
        up.kill()
        raise
    assert up.terminate() == 0, "\n".join(up.seen)
    assert any("stopped Airflow" in line for line in up.seen), "\n".join(up.seen)


def _api_token(url: str, password: str) -> str:
    answer = httpx.post(
        f"{url}/auth/token", json={"username": "admin", "password": password}, timeout=30
    )
    answer.raise_for_status()
    token: str = answer.json()["access_token"]
    return token


def _wait_for_manual_run(url: str, token: str) -> dict[str, object]:
    """The nightly DAG's manual run once it has finished (success or failure)."""
    deadline = time.monotonic() + _RUN_TIMEOUT_S
    headers = {"Authorization": f"Bearer {token}"}
    runs: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        answer = httpx.get(
            f"{url}/api/v2/dags/{NIGHTLY}/dagRuns", headers=headers, timeout=30
        ).json()
        runs = [run for run in answer["dag_runs"] if run["run_type"] == "manual"]
        if runs and runs[0]["state"] in ("success", "failed"):
            return runs[0]
        time.sleep(2)
    raise AssertionError(f"the triggered run did not finish in {_RUN_TIMEOUT_S} s: {runs}")


def _submit_the_trigger_dialog(page: Page) -> None:
    """Click the dialog's Trigger button until Airflow's API has taken the new run.

    The dialog re-renders its form while it is open (CI of 6021c52: "element was detached from
    the DOM, retrying" for 60 s), so a click that waits for a stable button may never land.
    Each click goes to the button as it is then; what counts is the POST that creates the run.
    """
    submit = page.get_by_role("dialog").get_by_role("button", name=re.compile(r"^Trigger")).last
    creates_a_run = re.compile(rf"/dags/{NIGHTLY}/dagRuns$")

    def is_the_trigger(response: Response) -> bool:
        return response.request.method == "POST" and bool(creates_a_run.search(response.url))

    with page.expect_response(is_the_trigger, timeout=90_000) as triggered:
        for _ in range(30):
            try:
                submit.click(force=True, timeout=2_000)
                break
            except PlaywrightError:  # detached under the click: the next try finds the new one
                continue
    assert triggered.value.ok, triggered.value.status


def test_airflow_ui_shows_both_dags_and_a_triggered_nightly_run_fills_journeys_open(
    page: Page, journeys_up_airflow: AirflowUp
) -> None:
    airflow = journeys_up_airflow
    page.set_default_timeout(60_000)
    page.goto(f"{airflow.url}/")
    page.locator('input[name="username"]').fill("admin")
    page.locator('input[name="password"]').fill(airflow.password)
    page.locator('button[type="submit"]').click()
    # The login's redirects must be over: a goto during them is aborted (net::ERR_ABORTED).
    page.wait_for_url(lambda url: "login" not in url, wait_until="load")

    page.goto(f"{airflow.url}/dags")
    expect(page.get_by_role("link", name=NIGHTLY, exact=True)).to_be_visible()
    expect(page.get_by_role("link", name=WEEKEND, exact=True)).to_be_visible()
    screenshot(page, "airflow-dags-on-journeys-up.png")

    page.get_by_role("link", name=NIGHTLY, exact=True).click()
    page.get_by_role("button", name=re.compile(r"^Trigger")).first.click()
    _submit_the_trigger_dialog(page)

    run = _wait_for_manual_run(airflow.url, _api_token(airflow.url, airflow.password))
    page.reload()
    screenshot(page, "airflow-nightly-run-on-journeys-up.png")
    assert run["state"] == "success", json.dumps(run)

    secrets = json.loads((airflow.data_dir / "stack.json").read_text())
    with StoreClient(f"grpc://127.0.0.1:{airflow.store_port}", secrets["reader_token"]) as store:
        stats = store.stats()
    assert stats.rows_open > 0
    settings = offload_settings(airflow.data_dir)  # the lake journeys up gives Airflow
    assert open_table(settings).num_rows == stats.rows_open

    # The analyst's command, from the directory journeys up was started in (its data/), with
    # no store setting and no token: it finds the lake journeys up printed and reads it.
    analyst_env = {k: v for k, v in os.environ.items() if not k.startswith("JOURNEYS_")}
    answer = subprocess.run(
        journeys_command("sql", "SELECT count(*) AS open_rows FROM journeys_open"),
        cwd=airflow.data_dir.parent,
        env=analyst_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert answer.returncode == 0, answer.stdout + answer.stderr
    assert f"{stats.rows_open:,}" in answer.stdout or str(stats.rows_open) in answer.stdout, (
        answer.stdout
    )
