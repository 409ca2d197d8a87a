"""Refuse placeholder secrets at start-up, the same way in every process.

A settings file copied from ``deploy/env/`` carries ``CHANGEME`` where secrets go; a process
started with it must fail fast instead of running with a guessable token or key. Shared by the
gateway (API keys), the store (role tokens) and the Kafka settings (SASL password).
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit, urlunsplit

#: Secrets shorter than this are refused: they are guessable.
MIN_SECRET_LENGTH: Final = 16

_PLACEHOLDER_WORDS: Final = ("changeme", "change-me", "change_me", "placeholder", "example")
_PLACEHOLDER_VALUES: Final = frozenset(
    {
        "secret", "password", "token", "apikey", "api-key", "api_key", "test", "demo",
        "default", "todo", "xxx",
    }
)  # fmt: skip


def is_placeholder(secret: str) -> bool:
    """True for values that are obviously not secrets (``CHANGEME…``, ``password``, ``xxxx``)."""
    lowered = secret.strip().lower()
    if lowered in _PLACEHOLDER_VALUES or len(set(lowered)) <= 2:
        return True
    return any(word in lowered for word in _PLACEHOLDER_WORDS)


def weak_secret_reason(secret: str, min_length: int = MIN_SECRET_LENGTH) -> str | None:
    """Why ``secret`` must be refused, or None when it may be used. Never echoes the value."""
    if len(secret) < min_length:
        return f"is shorter than {min_length} characters"
    if is_placeholder(secret):
        return "is a placeholder; generate a random one"
    return None


def url_without_password(url: str) -> str:
    """``url`` with the password of its user part (``user:PASSWORD@host``) shown as ``***``.

    For messages and logs: a store URL may carry its password (``postgresql://u:p@h/db``).
    Anything that does not parse as a URL is returned with everything before ``@`` hidden.
    """
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return f"***@{url.rsplit('@', 1)[1]}" if "@" in url else url
    if password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
