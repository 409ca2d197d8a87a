"""Bearer-token authentication and role checks for the store's Flight server.

:class:`BearerAuthFactory` is Flight server middleware: it reads the ``authorization`` header
of every call, rejects a missing or unknown token (``FlightUnauthenticatedError``) and attaches
the token's role to the call. :func:`require` then checks that role against
:data:`~store.protocol.PERMISSIONS` (``FlightUnauthorizedError`` when not allowed).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from typing import Final

import pyarrow.flight as flight

from store.protocol import AUTHORIZATION_HEADER, PERMISSIONS, Operation, Role

MIDDLEWARE_KEY: Final = "auth"
_BEARER: Final = "bearer "


class RoleMiddleware(flight.ServerMiddleware):  # type: ignore[misc]
    """Carries the authenticated role of one call."""

    def __init__(self, role: Role) -> None:
        super().__init__()
        self.role = role


class BearerAuthFactory(flight.ServerMiddlewareFactory):  # type: ignore[misc]
    """Authenticates every call by its bearer token."""

    def __init__(
        self, tokens: Mapping[str, Role], on_reject: Callable[[], None] | None = None
    ) -> None:
        super().__init__()
        self._tokens = [(token.encode(), role) for token, role in tokens.items()]
        self._on_reject = on_reject

    def role_of(self, token: str) -> Role | None:
        """The role of ``token``, compared in constant time against every known token."""
        candidate = token.encode()
        found: Role | None = None
        for known, role in self._tokens:
            if hmac.compare_digest(known, candidate):
                found = role
        return found

    def start_call(
        self, info: flight.CallInfo, headers: dict[str, list[str | bytes]]
    ) -> RoleMiddleware:
        values = headers.get(AUTHORIZATION_HEADER) or []
        value = values[0] if values else ""
        text = value.decode() if isinstance(value, bytes) else value
        role = None
        if text.lower().startswith(_BEARER):
            role = self.role_of(text[len(_BEARER) :].strip())
        if role is None:
            if self._on_reject is not None:
                self._on_reject()
            problem = "unknown" if text else "missing"
            raise flight.FlightUnauthenticatedError(f"{problem} bearer token")
        return RoleMiddleware(role)


def require(context: flight.ServerCallContext, operation: Operation) -> Role:
    """The caller's role, if it may perform ``operation``; otherwise FlightUnauthorizedError."""
    middleware = context.get_middleware(MIDDLEWARE_KEY)
    if not isinstance(middleware, RoleMiddleware):
        raise flight.FlightUnauthenticatedError("missing bearer token")
    if middleware.role not in PERMISSIONS[operation]:
        raise flight.FlightUnauthorizedError(f"role '{middleware.role}' may not {operation.value}")
    return middleware.role
