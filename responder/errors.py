"""Errors of the responder.

    ResponderError              base class
    └── ResponderStartError     Kafka unreachable at start, topics missing, or misuse

Bad input never raises: it becomes a dead letter and an ``invalid`` reply. Store failures
become ``unavailable`` replies (see ``batch.py``); aiokafka errors are translated here at the
boundary in ``service.py``.
"""

from __future__ import annotations


class ResponderError(Exception):
    """Base class of the responder's errors."""


class ResponderStartError(ResponderError):
    """The responder could not start (or was used before it started)."""
