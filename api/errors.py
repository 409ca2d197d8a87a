"""Errors of the gateway; each one knows the HTTP answer it becomes.

::

    GatewayError                 (status_code, retry_after: bool)
    ├── Overloaded               429  too many requests in flight; retry after a pause
    ├── KafkaUnavailable         503  Kafka cannot take the request (down, not connected yet)
    ├── BackendUnavailable       503  the responder replied ``unavailable`` (store down)
    ├── DeadlineExceeded         504  no reply before the request's deadline
    ├── CustomerNotFound         404  the customer has no journeys for the filter
    ├── RequestRejected          422  the responder replied ``invalid``
    ├── ReplyTooLarge            500  the responder replied ``too_large`` (the answer exceeds
    │                                 a size cap: our data problem, not the caller's; retrying
    │                                 does not help, so no ``Retry-After``)
    └── BadReply                 502  the reply could not be read

Handlers branch on ``status_code`` and ``retry_after``, never on class names; aiokafka
exceptions are translated to these where the gateway calls aiokafka.
"""

from __future__ import annotations

from typing import ClassVar


class GatewayError(Exception):
    """Base class: a request that ends with an error answer."""

    status_code: ClassVar[int] = 500
    retry_after: ClassVar[bool] = False

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Overloaded(GatewayError):
    status_code = 429
    retry_after = True


class KafkaUnavailable(GatewayError):
    status_code = 503
    retry_after = True


class BackendUnavailable(GatewayError):
    status_code = 503
    retry_after = True


class DeadlineExceeded(GatewayError):
    status_code = 504


class CustomerNotFound(GatewayError):
    status_code = 404


class RequestRejected(GatewayError):
    status_code = 422


class BadReply(GatewayError):
    status_code = 502


class ReplyTooLarge(GatewayError):
    status_code = 500
