"""`journeys up` on the Tansu fallback restarts the broker before it degrades, keeps answering.

The whole local stack as a user runs it, forced onto Tansu (what a machine without a JDK gets),
with a restart limit low enough that steady lookups cross several restarts in a short test.
Outcomes only: every lookup is answered correctly or fails clearly (503/504), and after each
restart the stack answers again. How long a restart takes is measured by bench/soak.py.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from devstack import free_up_ports
from tests.support.cli_process import LineReader
from tests.support.processes import journeys_command, port_open

pytestmark = pytest.mark.e2e

RESTARTS_WANTED = 2
#: Upper bound on the whole load phase; the test ends as soon as RESTARTS_WANTED are seen.
LOAD_BOUND_S = 240.0


def _up_on_tansu(data_dir: Path, ports: dict[str, int]) -> LineReader:
    args = ["up", "--data-dir", str(data_dir), "--demo-customers", "50"]
    for option, port in ports.items():
        args += [f"--{option}", str(port)]
    env = {"JOURNEYS_UP_BROKER": "tansu", "JOURNEYS_UP_TANSU_RESTART_MESSAGES": "200"}
    return LineReader(journeys_command(*args), env=env)


async def _lookups_until(
    base: str, api_key: str, done: Callable[[], bool], statuses: list[int]
) -> None:
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": api_key}) as http:
        deadline = time.monotonic() + LOAD_BOUND_S
        i = 0
        while not done() and time.monotonic() < deadline:
            # 20 concurrent lookups of existing customers, about 40 a second.
            batch = [f"/v1/customers/cust-{(i + k) % 50 + 1:07d}/journeys" for k in range(20)]
            answers = await asyncio.gather(*(http.get(path, timeout=10) for path in batch))
            for answer in answers:
                statuses.append(answer.status_code)
                if answer.status_code == 200:
                    assert answer.json()["journeys"], answer.text
                elif answer.status_code in (404, 503, 504):
                    assert answer.json()["detail"], answer.text  # a clear error, not a hang
            i += 20
            await asyncio.sleep(0.5)


def test_journeys_up_on_tansu_restarts_the_broker_and_keeps_answering(tmp_path: Path) -> None:
    ports = free_up_ports()
    data_dir = tmp_path / "data"
    up = _up_on_tansu(data_dir, ports)
    statuses: list[int] = []
    try:
        up.wait_for_line("curl ", timeout=180)
        assert any(line.startswith("Kafka: Tansu") for line in up.seen), up.seen
        api_key = json.loads((data_dir / "stack.json").read_text())["api_key"]
        base = f"http://127.0.0.1:{ports['gateway-port']}"

        def restarts() -> int:
            return sum("restarted kafka broker" in line for line in up.take_available())

        asyncio.run(_lookups_until(base, api_key, lambda: restarts() >= RESTARTS_WANTED, statuses))
        assert restarts() >= RESTARTS_WANTED, "\n".join(up.seen)

        # After the last restart the stack answers again: the next lookups all succeed.
        after: list[int] = []
        asyncio.run(_lookups_until(base, api_key, lambda: len(after) >= 100, after))
        statuses += after
        tail = after[-40:]
    except BaseException:
        up.kill()
        raise
    assert up.terminate() == 0, "\n".join(up.seen)
    assert not any(port_open(p) for p in ports.values()), "a process outlived `journeys up`"

    # 200 with journeys or 404 (a demo customer without open ones) are answers.
    assert set(statuses) <= {200, 404, 503, 504}, sorted(set(statuses))
    assert set(tail) <= {200, 404}, tail
    assert statuses.count(200) > len(statuses) // 2
