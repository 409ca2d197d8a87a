"""Each gateway in turn is stopped with SIGTERM while its requests are in flight."""

from __future__ import annotations

import asyncio
import signal

import pytest

from tests.chaos.conftest import ChaosStack

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(400)]


async def test_sigterm_of_each_gateway_in_turn_answers_every_request(
    chaos_stack: ChaosStack,
) -> None:
    stack = chaos_stack.stack
    signalled_at: list[float] = []
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def stop_each_gateway() -> None:
        for n, gateway in enumerate(list(chaos_stack.gateways)):
            port = int(gateway.url.rsplit(":", 1)[1])
            signalled_at.append(loop.time() - started)
            code = await asyncio.to_thread(gateway.process.stop, 20.0)  # SIGTERM, then wait
            # uvicorn re-raises the SIGTERM it handled once it has drained: -15 is a clean exit.
            assert code in (0, -signal.SIGTERM), f"gateway {n} exit code {code}"
            # The load client sends to the other gateway meanwhile, as a load balancer would.
            restarted = await asyncio.to_thread(
                stack.start_gateway_on, port, f"gateway-{n}-restarted", n, {}
            )
            chaos_stack.gateways[n] = restarted
            await asyncio.sleep(2.0)

    report = await chaos_stack.load().run("gateway-sigterm-each", 3.0, stop_each_gateway)

    summary = report.publish({"sigterm_at_s": [round(t, 2) for t in signalled_at]})
    assert not report.wrong, f"wrong answers: {report.wrong[:5]}"
    assert not report.failed, f"{len(report.failed)} failed: {summary}"
    assert summary["rerouted"] > 0, "no request met a stopping gateway: the fault did not bite"
    assert all(g.process.running() for g in chaos_stack.gateways)
