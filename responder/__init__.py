"""The responder: consumes journey requests in batches, one store lookup per batch, replies.

Public API: :class:`ResponderSettings`, :class:`Responder` (the Kafka loop), :class:`BatchHandler`
(the per-batch rules, Kafka-free), :class:`ResponderMetrics`, :func:`run_responder` (what
``journeys responder run`` calls) and the errors.
"""

from responder.batch import BatchHandler, BatchResult
from responder.errors import ResponderError, ResponderStartError
from responder.metrics import ResponderMetrics, serve_metrics
from responder.runner import run as run_responder
from responder.runner import serve as serve_responder
from responder.service import Responder
from responder.settings import ResponderSettings
from responder.store_lookup import JourneyLookup, RetryPolicy

__all__ = [
    "BatchHandler",
    "BatchResult",
    "JourneyLookup",
    "Responder",
    "ResponderError",
    "ResponderMetrics",
    "ResponderSettings",
    "ResponderStartError",
    "RetryPolicy",
    "run_responder",
    "serve_metrics",
    "serve_responder",
]
