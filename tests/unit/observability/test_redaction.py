"""No secret reaches a log line: API keys, bearer tokens, passwords, registered secrets."""

from __future__ import annotations

import logging

import pytest

from journeys.observability import REDACTED, Redactor
from tests.support.log_fixtures import JsonLogs

log = logging.getLogger("journeys.test")

API_KEY = "k3y-0f-the-web-team-4f9a1c"
TOKEN = "tok_9f8e7d6c5b4a39281706"
PASSWORD = "hunter2-but-longer"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"X-API-Key: {API_KEY}", API_KEY),
        (f"x-api-key={API_KEY}", API_KEY),
        (f"authorization: Bearer {TOKEN}", TOKEN),
        (f"Authorization: bearer {TOKEN}", TOKEN),
        (f"headers=[(b'authorization', b'Bearer {TOKEN}')]", TOKEN),
        (f"headers={{'X-API-Key': '{API_KEY}', 'accept': '*/*'}}", API_KEY),
        (f"[('x-api-key', '{API_KEY}')]", API_KEY),
        (f'{{"password": "{PASSWORD}", "user": "bob"}}', PASSWORD),
        (f"password={PASSWORD}", PASSWORD),
        (f"sasl_plain_password='{PASSWORD}'", PASSWORD),
        (f"JOURNEYS_STORE_READER_TOKENS={TOKEN},{TOKEN[::-1]}", TOKEN[::-1]),
        (f"GET /x?api_key={API_KEY}&page=2", API_KEY),
        (f"client_secret: {PASSWORD}", PASSWORD),
    ],
)
def test_values_of_sensitive_keys_and_bearer_tokens_are_redacted(text: str, secret: str) -> None:
    redacted = Redactor().text(text)

    assert secret not in redacted
    assert REDACTED in redacted


def test_ordinary_text_is_left_alone() -> None:
    text = "missing API key: send it in the X-API-Key header; tokens must be 16 characters"

    assert Redactor().text(text) == text


def test_registered_secrets_are_redacted_wherever_they_appear() -> None:
    redactor = Redactor([API_KEY, "short"])

    assert Redactor().text(f"key {API_KEY} seen") == f"key {API_KEY} seen"  # no rule matches
    assert redactor.text(f"key {API_KEY} seen") == f"key {REDACTED} seen"
    assert redactor.text("too short to register") == "too short to register"


def test_a_log_record_with_an_api_key_a_bearer_token_and_a_password_is_redacted(
    json_logs: JsonLogs,
) -> None:
    log.warning("call with X-API-Key: %s", API_KEY)
    log.info("store headers %s", [(b"authorization", f"Bearer {TOKEN}".encode())])
    log.info("login", extra={"password": PASSWORD, "user": "bob", "api_key": API_KEY})
    log.info("nested", extra={"settings": {"token": TOKEN, "host": "h"}})
    try:
        raise RuntimeError(f"connect failed: authorization: Bearer {TOKEN}")
    except RuntimeError:
        log.exception("store call failed")

    text = json_logs.text()
    for secret in (API_KEY, TOKEN, PASSWORD):
        assert secret not in text
    login = json_logs.find(message="login")[0]
    assert login["password"] == REDACTED
    assert login["api_key"] == REDACTED
    assert login["user"] == "bob"
    assert json_logs.find(message="nested")[0]["settings"] == {"token": REDACTED, "host": "h"}
    assert REDACTED in json_logs.find(message="store call failed")[0]["exception"]


def test_a_broken_format_string_does_not_break_the_caller(json_logs: JsonLogs) -> None:
    log.info("two %s %s", "args?")

    [line] = json_logs.lines()
    assert "unrenderable" in line["message"]
