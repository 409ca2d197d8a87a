"""The local development stack behind ``journeys up``: supervisor, local broker, child processes.

Development tooling only: production processes never import it (the CLI imports it lazily).
"""

from devstack.apache_kafka import (
    INSTALL_HINT,
    ApacheKafkaBroker,
    find_apache_kafka,
    local_kafka,
    pinned_version,
)
from devstack.child_process import ChildProcess
from devstack.embedded_stack import EmbeddedStack
from devstack.errors import StackError
from devstack.kafka_probe import coordinator_probe, metadata_probe
from devstack.private_files import make_private
from devstack.stack_processes import StackProcesses
from devstack.stack_settings import StackSecrets, StackSettings, StackUrls, free_up_ports
from devstack.supervisor import Supervisor, http_ok

__all__ = [
    "INSTALL_HINT",
    "ApacheKafkaBroker",
    "ChildProcess",
    "EmbeddedStack",
    "StackError",
    "StackProcesses",
    "StackSecrets",
    "StackSettings",
    "StackUrls",
    "Supervisor",
    "coordinator_probe",
    "find_apache_kafka",
    "free_up_ports",
    "http_ok",
    "local_kafka",
    "make_private",
    "metadata_probe",
    "pinned_version",
]
