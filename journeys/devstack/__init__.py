"""The local development stack behind ``journeys up``: supervisor, local brokers, child processes.

Development tooling only: production processes never import it (the CLI imports it lazily).
"""

from journeys.devstack.apache_kafka import ApacheKafkaBroker, find_apache_kafka, pinned_version
from journeys.devstack.child_process import ChildProcess
from journeys.devstack.embedded_stack import (
    EmbeddedStack,
    StackSecrets,
    StackSettings,
    StackUrls,
    free_up_ports,
)
from journeys.devstack.errors import StackError
from journeys.devstack.kafka_probe import coordinator_probe, metadata_probe
from journeys.devstack.local_broker import BrokerChoice, LocalBroker, choose_broker
from journeys.devstack.private_files import make_private
from journeys.devstack.supervisor import Supervisor, http_ok
from journeys.devstack.tansu_broker import TansuBroker, find_broker_binary

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
