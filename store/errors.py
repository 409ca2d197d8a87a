"""Errors raised by the store client (and mapped from the server's Flight errors).

    StoreError                      base class; ``retriable`` says whether to try again
    ├── StoreUnavailable            server down, unreachable, overloaded or timed out (retriable)
    ├── StoreUnauthenticated        no token, or a token the server does not know
    ├── StoreUnauthorized           a valid token whose role may not do this operation
    ├── StoreInvalidRequest         the request or batch does not match the schema/contract
    └── StoreInternalError          the server failed while handling a valid request

    LoaderError                     (not a StoreError) an input file cannot be read: missing,
                                    unknown format, or unreadable past some row

Callers branch on the flag (``exc.retriable``) or the class, never on message text.
The Flight → store error mapping lives in ``client.py`` at the boundary, with a test that it
is complete.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every error the store client raises."""

    retriable: bool = False


class StoreUnavailable(StoreError):
    """The store cannot be reached or did not answer in time. Try again later."""

    retriable = True


class StoreUnauthenticated(StoreError):
    """The token is missing or unknown."""


class StoreUnauthorized(StoreError):
    """The token is valid but its role may not perform this operation."""


class StoreInvalidRequest(StoreError):
    """The request or batch was rejected; the message names the column and row."""


class StoreInternalError(StoreError):
    """The server failed while handling a valid request."""


class LoaderError(Exception):
    """The input cannot be read (missing file, unknown format, unreadable past some row)."""
