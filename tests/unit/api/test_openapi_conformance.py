"""The gateway answers what its OpenAPI document says: schemathesis with every check, in-process.

This is ``schemathesis run --checks all`` driven from Python against the ASGI app (no socket):
the pinned schemathesis 4 engine runs its phases (examples, coverage, fuzzing with positive and
negative data) over every operation, and every check it has runs on every answer (server
errors, status codes, content types, headers, response schemas, negative data rejected,
positive data accepted, missing required header, unsupported method, ignored auth, ...). The
gateway runs its real lifespan with the fake Kafka link, so well-formed lookups get real replies.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import StopReason, events, from_schema
from schemathesis.engine.statistic import Statistic
from schemathesis.python import asgi

from api import create_app
from tests.support.fake_kafka import FakeKafka
from tests.support.gateway_app import API_KEY, answer_with_journeys, gateway_settings

#: Fuzzing examples per operation; the lookup route gets them all, the parameterless routes
#: (healthz, readyz, metrics) have nothing to vary. Coverage and examples phases add more.
MAX_EXAMPLES = 500
MIN_CASES = 500


def every_check_enabled() -> dict[str, Any]:
    """The ``--checks all`` configuration: every registered check switched on by name."""
    load_all_checks()
    names = CHECKS.get_all_names()
    assert len(names) >= 10  # the pinned version has 14; fewer means the registry was not loaded
    return {"enabled": True, **{name: {"enabled": True} for name in names}}


def run_schemathesis(app: Any) -> tuple[Statistic, list[str], StopReason | None]:
    """Run every phase against ``app``; the statistics, the errors and why the run stopped."""
    config = SchemathesisConfig.from_dict(
        {
            "seed": 20260401,  # reproducible: a failure here fails the same way again
            "checks": every_check_enabled(),
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none"},
            "auth": {"openapi": {"APIKeyHeader": {"api_key": API_KEY}}},
        }
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    statistic = Statistic()
    errors: list[str] = []
    stop_reason: StopReason | None = None
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            statistic.on_scenario_finished(event.recorder)
        elif isinstance(event, events.NonFatalError | events.FatalError):
            errors.append(repr(event))
        elif isinstance(event, events.EngineFinished):
            stop_reason = event.stop_reason
            errors.extend(f"{failure.title}: {failure.message}" for failure in event.failures)
    return statistic, errors, stop_reason


def failure_report(statistic: Statistic) -> list[str]:
    """Each failing check as ``operation: title: message`` (empty when all passed)."""
    return [
        f"{operation}: {failure.title}: {failure.message}"
        for operation, groups in statistic.failures.items()
        for group in groups.values()
        for failure in group.failures
    ]


# ~40 s on an idle 2-core machine; the default 300 s hang guard was hit at load average 18.
@pytest.mark.timeout(900)
def test_every_schemathesis_check_passes_on_at_least_500_generated_cases() -> None:
    kafka = FakeKafka(respond=answer_with_journeys)
    app = create_app(gateway_settings(request_timeout_ms=2000), link_factory=kafka.bind)
    try:
        statistic, errors, stop_reason = run_schemathesis(app)
    finally:
        asgi.shutdown_lifespans()  # the gateway's lifespan exit: closes the link

    assert failure_report(statistic) == []
    assert errors == []
    assert (statistic.cases_with_failures, statistic.errored_cases) == (0, 0)
    assert stop_reason is StopReason.COMPLETED
    assert statistic.total_cases >= MIN_CASES
    # Well-formed lookups really went over the (fake) Kafka link and were answered.
    assert len(kafka.sent) >= 100
    assert kafka.started
    assert kafka.stopped
