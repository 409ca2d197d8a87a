"""HTTP caching of lookup answers, as web teams expect of a JSON API (RFC 9110, RFC 9111).

* Every 200 carries a **strong** ``ETag``: a hash of the answer's bytes, so two answers with the
  same journeys have the same tag whichever gateway, responder or store endpoint made them.
* A request whose ``If-None-Match`` names that tag (or ``*``) is answered **304 Not Modified**
  with no body: the lookup still runs (the tag is the answer's), only the bytes are saved.
* ``Cache-Control: private, no-cache``: the answer is one customer's (no shared cache may keep
  it), and a browser that keeps it must revalidate it at each use, since journeys change at any
  time. A fresh answer is as new as the store endpoint that served it: the primary, or a
  standby at most ``MAX_REPLAY_LAG_S`` behind it (store/postgres/replay_lag.py).
"""

from __future__ import annotations

import hashlib
from typing import Final

CACHE_CONTROL: Final = "private, no-cache"
#: ``If-None-Match`` longer than this is not parsed (a request header, attacker-sized).
_MAX_IF_NONE_MATCH: Final = 8_192


def entity_tag(body: bytes) -> str:
    """The strong entity tag of ``body`` (quoted, 32 hex digits of BLAKE2b)."""
    return f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'


def not_modified(if_none_match: str | None, etag: str) -> bool:
    """True when ``If-None-Match`` names ``etag`` or is ``*`` (weak comparison, as RFC 9110
    asks for this header: ``W/"x"`` matches ``"x"``)."""
    if not if_none_match or len(if_none_match) > _MAX_IF_NONE_MATCH:
        return False
    for candidate in if_none_match.split(","):
        tag = candidate.strip()
        if tag == "*":
            return True
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == etag:
            return True
    return False
