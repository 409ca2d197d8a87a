"""Keep secrets out of logs: API keys, bearer tokens, passwords, store tokens.

:class:`RedactionFilter` sits on the log handler, so every record passes through it, whoever
wrote it (our code, uvicorn, aiokafka). It rewrites, in order:

1. credentials after an auth scheme: ``Bearer <token>`` / ``Basic <b64>`` → ``Bearer [REDACTED]``;
2. values of sensitive keys in ``key: value``, ``key=value``, JSON/dict (``"password": "…"``)
   and header-tuple (``('x-api-key', '…')``) forms; a key is sensitive when its name contains
   ``api-key``/``apikey``, ``token``, ``secret``, ``password``/``passwd``, ``authorization`` or
   ``cookie``;
3. any exact secret value the process registered (its API keys or store token), wherever it
   appears;

in the message, the exception text and every extra field (an extra whose *name* is sensitive
is replaced whole). The rules over-redact rather than leak: a word that merely looks like a
sensitive key loses the value that follows it.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

REDACTED: Final = "[REDACTED]"

#: Shortest registered secret that is replaced verbatim (shorter ones would hit ordinary words).
MIN_SECRET_LENGTH: Final = 8

_SENSITIVE_NAME: Final = (
    r"(?:[a-z0-9_.-]*(?:api[-_]?keys?|token|secret|passw(?:or)?d|pwd|credential)s?"
    r"|(?:proxy-)?authorization|(?:set-)?cookie)"
)
_KEY_NAME_RE: Final = re.compile(rf"^{_SENSITIVE_NAME}$", re.IGNORECASE)
# Cheap pre-check: most log lines mention none of these and skip the other patterns.
_TRIGGER_RE: Final = re.compile(
    r"bearer|basic|key|token|secret|passw|pwd|credential|authorization|cookie", re.IGNORECASE
)
_SCHEME_RE: Final = re.compile(r"\b(bearer|basic)(\s+)(?!\[REDACTED\])[A-Za-z0-9._~+/=-]+", re.I)
_NOT_DONE: Final = r"(?!\[REDACTED\]|(?:bearer|basic)\s)"  # already redacted by rule 1
_KEY_VALUE_RE: Final = re.compile(
    rf"""(?P<key>["']?\b{_SENSITIVE_NAME}\b["']?)(?P<sep>\s*[:=]\s*){_NOT_DONE}"""
    r"""(?:(?P<quote>b?["'])[^"']*|[^\s"';&)}\]]+)""",
    re.IGNORECASE,
)
_TUPLE_RE: Final = re.compile(
    rf"""(?P<key>(?P<q>["']){_SENSITIVE_NAME}(?P=q))(?P<sep>\s*,\s*)(?P<quote>b?["'])"""
    rf"""{_NOT_DONE}[^"']+""",
    re.IGNORECASE,
)


@functools.lru_cache(maxsize=1024)
def _is_sensitive_name(name: str) -> bool:
    return _KEY_NAME_RE.match(name) is not None


def _replace_value(match: re.Match[str]) -> str:
    return f"{match['key']}{match['sep']}{match['quote'] or ''}{REDACTED}"


class Redactor:
    """Applies the redaction rules to text and to mappings of extra fields."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: tuple[str, ...] = ()
        self.add_secrets(secrets)

    def add_secrets(self, secrets: Iterable[str]) -> None:
        """Also replace these exact values (long ones first, so none leaves a tail behind)."""
        known = set(self._secrets) | {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}
        self._secrets = tuple(sorted(known, key=len, reverse=True))

    def text(self, text: str) -> str:
        """``text`` with every credential it contains replaced by ``[REDACTED]``."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        if _TRIGGER_RE.search(text) is None:
            return text
        text = _SCHEME_RE.sub(rf"\1\2{REDACTED}", text)
        text = _TUPLE_RE.sub(_replace_value, text)
        return _KEY_VALUE_RE.sub(_replace_value, text)

    def value(self, name: str, value: Any) -> Any:
        """An extra field's value, redacted by its name and, for text, by its content."""
        if _is_sensitive_name(name):
            return REDACTED
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bytes):
            return self.text(value.decode("utf-8", "replace"))
        if isinstance(value, Mapping):
            return {str(k): self.value(str(k), v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value("", item) for item in value]
        return value


#: LogRecord attributes that are not "extra" fields.
STANDARD_ATTRS: Final = frozenset(
    {
        *logging.LogRecord("", 0, "", 0, "", None, None).__dict__,
        "message",
        "asctime",
        "taskName",
        "color_message",  # uvicorn's coloured duplicate of the message
    }
)


#: Extra fields our code fills with ids and figures, never with secrets: not scanned.
TRUSTED_FIELDS: Final = frozenset(
    {
        "correlation_id",
        "trace_id",
        "span_id",
        "batch_trace_id",
        "batch_span_id",
        "method",
        "route",
        "status",
        "duration_ms",
        "reply_partition",
    }
)


class RedactionFilter(logging.Filter):
    """Rewrites each record so that no credential reaches a handler (see the module doc).

    The message is rendered (``msg % args``) and redacted, the exception is rendered to text
    and redacted, and extra fields are redacted in place. Never raises: a record that cannot
    be rendered is replaced by a note saying so.
    """

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.msg = self.redactor.text(record.getMessage())
        except Exception:  # a broken format string must not break the caller
            record.msg = f"unrenderable log message from {record.name}:{record.lineno}"
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.exc_info = None
        if record.exc_text:
            record.exc_text = self.redactor.text(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.text(record.stack_info)
        fields = record.__dict__
        for name in fields.keys() - STANDARD_ATTRS - TRUSTED_FIELDS:
            if fields[name] is not None:
                fields[name] = self.redactor.value(name, fields[name])
        return True
