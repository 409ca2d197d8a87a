"""The local development stack behind ``journeys up``: supervisor, local brokers, child processes.

Development tooling only: production processes never import it (the CLI imports it lazily).
"""

from devstack.apache_kafka import ApacheKafkaBroker, find_apache_kafka, pinned_version
from devstack.child_process import ChildProcess
from devstack.embedded_stack import (
    EmbeddedStack,
    StackSecrets,
    StackSettings,
    StackUrls,
    free_up_ports,
)
from devstack.errors import StackError
from devstack.kafka_probe import coordinator_probe, metadata_probe
from devstack.local_broker import BrokerChoice, LocalBroker, choose_broker
from devstack.private_files import make_private
from devstack.supervisor import Supervisor, http_ok
from devstack.tansu_broker import TansuBroker, find_broker_binary

__all__ = [
    "ApacheKafkaBroker",
    "BrokerChoice",
    "ChildProcess",
    "EmbeddedStack",
    "LocalBroker",
    "StackError",
    "StackSecrets",
    "StackSettings",
    "StackUrls",
    "Supervisor",
    "TansuBroker",
    "choose_broker",
    "coordinator_probe",
    "find_apache_kafka",
    "find_broker_binary",
    "free_up_ports",
    "http_ok",
    "make_private",
    "metadata_probe",
    "pinned_version",
]
