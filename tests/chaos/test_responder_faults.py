"""A responder stops (rolling restart) or crashes under load: no request may fail."""

from __future__ import annotations

import asyncio

import pytest

from tests.chaos.conftest import ChaosStack, assert_no_failures, start_responder
from tests.chaos.load import LoadReport

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(400)]


def assert_no_failure(report: LoadReport, chaos: ChaosStack) -> None:
    summary = report.publish({"gateways": chaos.gateway_counters()})
    assert summary["sent"] > 0
    assert not report.wrong, f"wrong answers: {report.wrong[:5]}"
    assert report.skipped == 0
    assert all(r.process.running() for r in chaos.responders)
    assert all(g.process.running() for g in chaos.gateways)
    assert_no_failures(report)


async def test_a_rolling_restart_of_both_responders_fails_no_request(
    chaos_stack: ChaosStack,
) -> None:
    stack = chaos_stack.stack

    async def rolling_restart() -> None:
        for n, responder in enumerate(list(chaos_stack.responders), start=1):
            # SIGTERM, wait for a clean exit, start its replacement, let the group settle.
            code = await asyncio.to_thread(responder.process.stop, 20.0)
            assert code in (0, -15), f"responder {n} exit code {code}"
            # Same static member id: it takes its partitions back without a rebalance.
            replacement = await asyncio.to_thread(start_responder, stack, n, 1)
            chaos_stack.responders[n - 1] = replacement
            await asyncio.to_thread(chaos_stack.wait_for_group, 2)
            await asyncio.sleep(2.0)

    report = await chaos_stack.load().run("responder-rolling-sigterm", 5.0, rolling_restart)

    assert_no_failure(report, chaos_stack)


async def test_a_responder_killed_with_sigkill_fails_no_request(chaos_stack: ChaosStack) -> None:
    victim = chaos_stack.responders[0]

    async def crash() -> None:
        await asyncio.to_thread(victim.process.kill)
        # Until the group notices (session timeout) and after its rebalance.
        await asyncio.to_thread(chaos_stack.wait_for_group, 1)
        await asyncio.sleep(2.0)

    report = await chaos_stack.load().run("responder-sigkill", 5.0, crash)
    # Restore the topology for the next scenario (the restart is not measured).
    chaos_stack.responders[0] = await asyncio.to_thread(start_responder, chaos_stack.stack, 1, 2)
    await asyncio.to_thread(chaos_stack.wait_for_group, 2)

    assert_no_failure(report, chaos_stack)
