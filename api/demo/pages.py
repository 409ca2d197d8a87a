"""The demo page at ``/``: a customer's journeys as a web frontend would show them.

Only mounted when ``JOURNEYS_GATEWAY_DEMO_PAGES`` is true (the embedded stack sets it); in
production ``/`` is a 404. The page is static HTML + vanilla JS from ``api/demo/static``
(no build step, nothing from a CDN) that calls the public lookup API like any frontend would.
``/demo/config`` tells it which example customers to offer and, only when
``JOURNEYS_GATEWAY_DEMO_API_KEY`` is set (the embedded stack, never production), the key to
pre-fill. Because that answer can hold a key, it is only given to requests whose ``Host`` header
names this machine's loopback (``127.0.0.1``, ``localhost``, ``[::1]``, or the configured bind
address) with no port or the configured one: a DNS-rebinding page (``evil.example`` resolving
to 127.0.0.1) sends its own host name and gets 403.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Final

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel

from api.settings import GatewaySettings

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"

_MEDIA_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}

#: Same-origin only: proves the pages need nothing from the internet, and blocks injected code.
_PAGE_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'"
    ),
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
}

#: Customers the demo offers (demo data numbers customers from cust-0000001), plus two that
#: show the API's error answers.
EXAMPLE_CUSTOMERS: Final = (
    ("cust-0000001", "cust-0000001"),
    ("cust-0000002", "cust-0000002"),
    ("cust-0000003", "cust-0000003"),
    ("cust-0000042", "cust-0000042"),
    ("cust-0000100", "cust-0000100"),
    ("cust-9999999", "cust-9999999 (unknown: 404)"),
    ("no such id!", "no such id! (malformed: 422)"),
)


class DemoExample(BaseModel):
    """One customer the demo page offers."""

    customer_id: str
    label: str


class DemoConfig(BaseModel):
    """What the demo page needs to start."""

    api_key: str | None
    examples: list[DemoExample]


@functools.cache  # the files ship with the package: list them once, not per request
def _static_names() -> frozenset[str]:
    if not STATIC_DIR.is_dir():
        return frozenset()
    return frozenset(p.name for p in STATIC_DIR.iterdir() if p.suffix in _MEDIA_TYPES)


def static_response(name: str) -> FileResponse:
    """A file of ``api/demo/static`` with its media type and the pages' security headers."""
    if name not in _static_names():
        raise HTTPException(status_code=404, detail=f"no static file {name!r}")
    path = STATIC_DIR / name
    return FileResponse(path, media_type=_MEDIA_TYPES[path.suffix], headers=_PAGE_HEADERS)


_LOOPBACK_NAMES: Final = ("127.0.0.1", "localhost", "[::1]")


def allowed_hosts(settings: GatewaySettings) -> frozenset[str] | None:
    """``Host`` values that may read ``/demo/config``; None: any port of the loopback names."""
    names = set(_LOOPBACK_NAMES)
    if settings.host not in ("0.0.0.0", "::", ""):  # noqa: S104 (compared, never bound)
        names.add(f"[{settings.host}]" if ":" in settings.host else settings.host)
    if settings.port == 0:  # an ephemeral port is not known in advance
        return None
    return frozenset({*names, *(f"{name}:{settings.port}" for name in names)})


def host_is_local(host: str, allowed: frozenset[str] | None) -> bool:
    """Whether a ``Host`` header value names this gateway on the loopback."""
    host = host.strip().lower()
    if allowed is not None:
        return host in allowed
    name, _, port = host.rpartition(":") if not host.endswith("]") else (host, "", "")
    if not name or (port and not port.isdecimal()):
        name = host
    return name in _LOOPBACK_NAMES


def build_router(settings: GatewaySettings) -> APIRouter:
    """Routes of the demo page: ``/``, ``/demo/config`` and ``/static/{name}``."""
    router = APIRouter(include_in_schema=False)
    key = settings.demo_api_key.get_secret_value() if settings.demo_api_key else None
    config = DemoConfig(
        api_key=key,
        examples=[DemoExample(customer_id=c, label=label) for c, label in EXAMPLE_CUSTOMERS],
    )

    @router.get("/")
    async def demo_page() -> FileResponse:
        """The demo page."""
        return static_response("demo.html")

    hosts = allowed_hosts(settings)

    @router.get("/demo/config")
    async def demo_config(request: Request) -> DemoConfig:
        """Example customers and, in the embedded stack only, the API key to pre-fill."""
        if not host_is_local(request.headers.get("host", ""), hosts):
            raise HTTPException(
                status_code=403, detail="the demo configuration is only served to localhost"
            )
        return config

    @router.get("/static/{name}")
    async def static_file(name: str) -> FileResponse:
        """The pages' scripts and styles."""
        return static_response(name)

    return router
