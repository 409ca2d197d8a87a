"""CLI commands of the responder area: ``journeys responder run``."""

from __future__ import annotations

import typer
from pydantic import ValidationError

from cli.errors import fail

responder_app = typer.Typer(
    help="The Kafka responder (consumes requests, one store lookup per batch, replies).",
    no_args_is_help=True,
)

_SETTINGS_HELP = """\
Settings come from the environment:

JOURNEYS_RESPONDER_STORE__URL        store Flight URL (grpc://127.0.0.1:8815)

JOURNEYS_RESPONDER_STORE__TOKEN      a reader token of the store (required)

JOURNEYS_RESPONDER_STORE__TIMEOUT_S, JOURNEYS_RESPONDER_STORE__TLS_ROOT_CERT

JOURNEYS_RESPONDER_GROUP_ID          consumer group (journeys-responder)

JOURNEYS_RESPONDER_MAX_BATCH         records per poll at most (500)

JOURNEYS_RESPONDER_POLL_TIMEOUT_MS   poll wait, bounds shutdown time (100)

JOURNEYS_RESPONDER_REPLY_EXPIRED     answer late requests with 'expired' (true)

JOURNEYS_RESPONDER_STORE_ATTEMPTS, _STORE_BACKOFF_MS, _STORE_MIN_BUDGET_MS,
_STORE_MAX_BUDGET_MS, _REPLY_MARGIN_MS   store retry within the batch's earliest deadline

JOURNEYS_RESPONDER_PRODUCE_TIMEOUT_MS, _STARTUP_TIMEOUT_S

JOURNEYS_RESPONDER_METRICS_HOST, _METRICS_PORT   /metrics endpoint (port 0 = off)

JOURNEYS_RESPONDER_LOG_LEVEL         debug, info, warning or error

JOURNEYS_KAFKA_*                     brokers, security, topics, partitions, profile
(see journeys.kafka.KafkaSettings)
"""


def _settings_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    loc = [str(part) for part in first["loc"]]
    if loc == ["store"] and first["type"] == "missing":
        return "no store token: set JOURNEYS_RESPONDER_STORE__TOKEN (a reader token)"
    variable = "JOURNEYS_RESPONDER_" + "__".join(loc).upper() if loc else "settings"
    return f"invalid responder settings: {variable}: {first['msg']}"


@responder_app.command("run", epilog=_SETTINGS_HELP)
def run() -> None:
    """Run one responder process until SIGTERM or Ctrl-C."""
    from journeys.observability import configure_logging, configure_tracing
    from responder import ResponderSettings, ResponderStartError, run_responder

    try:
        settings = ResponderSettings()
    except ValidationError as exc:
        raise fail(_settings_error(exc)) from None
    secrets = [settings.store.token.get_secret_value()]
    if settings.kafka.sasl_password is not None:
        secrets.append(settings.kafka.sasl_password.get_secret_value())
    configure_logging(settings.log_level, "responder", secrets=secrets)
    configure_tracing("responder")
    try:
        run_responder(settings)
    except ResponderStartError as exc:
        raise fail(str(exc)) from None


def register(app: typer.Typer) -> None:
    """Add this area's commands to the ``journeys`` app."""
    app.add_typer(responder_app, name="responder")
