"""Refuse store URLs that would send a password in plain text over a network.

libpq's default ``sslmode`` is ``prefer``: it tries TLS, silently falls back to plaintext and
checks no certificate, so a ``postgresql://`` URL without ``sslmode`` fails *open* (a
man-in-the-middle reads the role's password and every journey). :func:`plaintext_reason` says
why a URL is refused: a PostgreSQL URL to a host that is not this machine needs ``sslmode``
``require``, ``verify-ca`` or ``verify-full`` (in the URL, or ``PGSSLMODE``), unless the
process is told otherwise (``allow_plaintext``). Loopback and Unix sockets need nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final
from urllib.parse import parse_qs, urlsplit

#: The sslmodes that refuse a connection without TLS.
TLS_SSLMODES: Final = frozenset({"require", "verify-ca", "verify-full"})
_LOCAL_HOSTS: Final = frozenset({"", "localhost", "127.0.0.1", "::1"})


def _hosts(url: str) -> list[str]:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    hosts = []
    for item in netloc.split(","):  # libpq accepts host1:port1,host2:port2
        host = item[1:].split("]", 1)[0] if item.startswith("[") else item.split(":", 1)[0]
        hosts.append(host)
    query = parse_qs(parts.query)
    hosts += [h for value in query.get("host", []) for h in value.split(",")]
    return hosts


def _is_local(host: str) -> bool:
    return host in _LOCAL_HOSTS or host.startswith(("/", "127.")) or host.startswith("%2F")


def plaintext_reason(url: str, env: Mapping[str, str] | None = None) -> str | None:
    """Why ``url`` would send credentials unencrypted over a network, or None when it is safe."""
    if not url.startswith(("postgresql://", "postgres://")):
        return None
    env = os.environ if env is None else env
    remote = [host for host in _hosts(url) if not _is_local(host)]
    if not remote:
        return None
    modes = parse_qs(urlsplit(url).query).get("sslmode") or [env.get("PGSSLMODE", "prefer")]
    if modes[-1] in TLS_SSLMODES:
        return None
    return (
        f"the PostgreSQL url for {remote[0]} has sslmode={modes[-1]}, which sends the password"
        " unencrypted if TLS is not offered; add ?sslmode=verify-full (or require)"
    )
