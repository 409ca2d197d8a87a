"""The Kafka broker is stopped under load and started again on its log: the stack answers again
without any of our processes being restarted.

The module runs its own Apache Kafka broker (``keep_log``: a restart keeps the topics, the
messages and the consumer groups, as a production broker's does), so stopping it does not
disturb the session's broker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from devstack import ApacheKafkaBroker
from tests.chaos.conftest import ChaosStack, build_chaos_stack
from tests.support.kafka_fixtures import KafkaBroker
from tests.support.stack_fixtures import ProcessStack

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(600)]

#: Every request sent this long after the broker is back must be answered correctly. Clients
#: reconnect with backoff and the responders' group recovers its members after the restart.
RECOVERY_S = 20.0
#: How long the broker stays down.
DOWN_S = 3.0


@pytest.fixture(scope="module")
def restartable_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChaosStack]:
    """The chaos topology on a broker of its own that can be stopped and started again."""
    work = tmp_path_factory.mktemp("broker-restart")
    broker = ApacheKafkaBroker(
        data_dir=work / "kafka", log_path=work / "broker.log", keep_log=True, optimise=False
    )
    with broker:
        stack = ProcessStack(KafkaBroker(broker, work / "broker.log"), work)
        try:
            yield build_chaos_stack(stack)
        finally:
            stack.close()


async def test_after_a_broker_restart_the_stack_answers_again_without_restarting_our_processes(
    restartable_stack: ChaosStack,
) -> None:
    chaos = restartable_stack
    broker = chaos.stack.broker.broker
    ours = {p.name: p.pid for p in chaos.stack.processes if p.running()}
    loop = asyncio.get_running_loop()
    started = loop.time()
    marks: dict[str, float] = {}

    async def restart_broker() -> None:
        marks["stopped_at_s"] = loop.time() - started
        await asyncio.to_thread(broker.stop)  # SIGTERM: a controlled shutdown
        await asyncio.sleep(DOWN_S)
        await asyncio.to_thread(broker.start)  # returns once it answers metadata requests
        marks["back_at_s"] = loop.time() - started
        await asyncio.sleep(RECOVERY_S + 5.0)

    report = await chaos.load().run("broker-restart", 3.0, restart_broker, max_run_s=300.0)

    summary = report.publish({k: round(v, 2) for k, v in marks.items()})
    assert not report.wrong, f"wrong answers: {report.wrong[:5]}"
    failures = {o.status for o in report.failed}
    assert failures <= {503, 504}, f"failures other than 503/504: {summary['by_status']}"
    after = [o for o in report.outcomes if o.sent_at > marks["back_at_s"] + RECOVERY_S]
    assert after, "no load after the broker came back"
    assert all(o.status in (200, 404) for o in after), summary
    still = {p.name: p.pid for p in chaos.stack.processes if p.running()}
    assert still == ours, "one of our processes exited or was restarted"
