"""The local development stack behind ``journeys up``: supervisor, embedded broker, process helpers.

Development tooling only: production processes never import it (the CLI imports it lazily).
"""

from journeys.devstack.embedded_broker import EmbeddedBroker, find_broker_binary, metadata_probe
from journeys.devstack.embedded_stack import EmbeddedStack, StackSecrets, StackSettings, StackUrls
from journeys.devstack.errors import StackError
from journeys.devstack.private_files import make_private
from journeys.devstack.supervisor import Child, Supervisor, http_ok

__all__ = [
    "Child",
    "EmbeddedBroker",
    "EmbeddedStack",
    "StackError",
    "StackSecrets",
    "StackSettings",
    "StackUrls",
    "Supervisor",
    "find_broker_binary",
    "http_ok",
    "make_private",
    "metadata_probe",
]
