"""The embedded local stack behind ``journeys up``."""

from journeys.stack.embedded_stack import EmbeddedStack, StackSecrets, StackSettings, StackUrls
from journeys.stack.errors import StackError
from journeys.stack.supervisor import Child, Supervisor, http_ok

__all__ = [
    "Child",
    "EmbeddedStack",
    "StackError",
    "StackSecrets",
    "StackSettings",
    "StackUrls",
    "Supervisor",
    "http_ok",
]
