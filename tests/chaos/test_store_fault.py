"""The store is killed (kill -9) under load and restarted 5 s later."""

from __future__ import annotations

import asyncio

import pytest

from tests.chaos.conftest import ChaosStack

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(400)]

#: The issue's promise: every request sent this long after the store is back succeeds.
RECOVERY_S = 2.0


async def test_a_store_killed_for_5_s_costs_only_503s_while_it_is_down(
    chaos_stack: ChaosStack,
) -> None:
    stack = chaos_stack.stack
    store = next(p for p in stack.processes if p.name == "store" and p.running())
    loop = asyncio.get_running_loop()
    started = loop.time()
    marks: dict[str, float] = {}

    async def crash_and_restart() -> None:
        marks["killed_at_s"] = loop.time() - started
        await asyncio.to_thread(store.kill)
        await asyncio.sleep(5.0)
        await asyncio.to_thread(stack.start_store)  # returns once the port accepts
        marks["back_at_s"] = loop.time() - started
        await asyncio.sleep(RECOVERY_S + 2.0)

    report = await chaos_stack.load().run("store-sigkill-5s", 3.0, crash_and_restart)

    summary = report.publish({k: round(v, 2) for k, v in marks.items()})
    assert not report.wrong, f"wrong answers: {report.wrong[:5]}"
    failures = {o.status for o in report.failed}
    assert failures <= {503}, f"failures other than 503: {summary['by_status']}"
    after_recovery = [o for o in report.outcomes if o.sent_at > marks["back_at_s"] + RECOVERY_S]
    assert after_recovery, "no load after the store came back"
    assert all(o.status in (200, 404) for o in after_recovery), summary
