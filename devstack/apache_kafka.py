"""The local Apache Kafka broker: one KRaft node (broker and controller) started with ``java``.

Where the jars come from (:func:`find_apache_kafka`):

1. ``JOURNEYS_KAFKA_HOME``: an unpacked Apache Kafka distribution; its ``libs/`` is used.
2. ``.cache/kafka-<version>/libs`` in the repository, filled by ``make`` (``make kafka``) with
   Maven from Maven Central, for the version pinned in ``devstack/kafka-pom.xml``.
   Nothing is downloaded at run time.

:class:`ApacheKafkaBroker` writes a ``server.properties`` for free 127.0.0.1 ports (broker and
controller), formats the log directory for KRaft, runs ``kafka.Kafka`` and is ready when a
Metadata request lists the broker and a group coordinator is available (which creates the
offsets topic up front). The settings suit a small machine: a 512 MB heap, two network and
I/O threads, one partition for the internal topics, no initial rebalance delay. By default it
is a cluster of its own (node 1, the only voter); :mod:`devstack.kafka_cluster` starts several
nodes that share one controller quorum and cluster id.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from devstack.broker_process import BrokerProcess
from devstack.child_process import ChildProcess
from devstack.errors import StackError
from devstack.kafka_probe import coordinator_probe, metadata_probe
from devstack.processes import free_port, port_open
from journeys.kafka.errors import BrokerNotFound, BrokerStartError

POM: Final = Path(__file__).with_name("kafka-pom.xml")
REPOSITORY: Final = Path(__file__).resolve().parents[1]
HOME_ENV: Final = "JOURNEYS_KAFKA_HOME"

#: Broker settings for one node on a 2-core development machine or test run.
SMALL_NODE_SETTINGS: Final[Mapping[str, str]] = {
    # As in production (deploy/kafka): topics exist only when created with their partitions
    # and retention. With auto-creation on, a client's metadata request for a topic not yet
    # created makes it with one partition, and a gateway's reply partition never appears.
    "auto.create.topics.enable": "false",
    "num.partitions": "1",
    "num.network.threads": "2",
    "num.io.threads": "2",
    "background.threads": "2",
    "num.recovery.threads.per.data.dir": "1",
    "num.replica.fetchers": "1",
    "log.cleaner.threads": "1",
    "group.coordinator.threads": "1",
    "share.coordinator.threads": "1",
    "offsets.topic.num.partitions": "1",
    "offsets.topic.replication.factor": "1",
    "transaction.state.log.num.partitions": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "group.initial.rebalance.delay.ms": "0",
    "log.retention.check.interval.ms": "60000",
    # A starved machine (shared CI runners, 2 cores under a test suite) can delay the node's
    # heartbeats to its own controller; the defaults (9 s session) then fence the only broker
    # and every partition loses its leader. One node has no one to fail over to: be patient.
    "broker.session.timeout.ms": "60000",
    "broker.heartbeat.interval.ms": "2000",
    "controller.quorum.request.timeout.ms": "10000",
}

_JVM_OPTIONS: Final = (
    "-XX:+UseSerialGC",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)

_LOG4J2: Final = """\
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = ${sys:journeys.kafka.log.level:-INFO}
rootLogger.appenderRef.out.ref = OUT
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = WARN
"""


def pinned_version(pom: Path = POM) -> str:
    """The Apache Kafka version pinned in ``kafka-pom.xml``."""
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", pom.read_text())
    if match is None:
        raise BrokerNotFound(f"no <kafka.version> in {pom}")
    return match.group(1).strip()


def cache_libs(version: str | None = None) -> Path:
    """Where ``make kafka`` puts the jars of ``version`` (default: the pinned one)."""
    return REPOSITORY / ".cache" / f"kafka-{version or pinned_version()}" / "libs"


@dataclass(frozen=True)
class KafkaInstall:
    """A JDK and the jars of one Apache Kafka version."""

    java: str
    libs: Path
    version: str

    @property
    def classpath(self) -> str:
        return str(self.libs / "*")


def find_java(env: Mapping[str, str] | None = None) -> str | None:
    """``$JAVA_HOME/bin/java`` or ``java`` on PATH."""
    env = os.environ if env is None else env
    if java_home := env.get("JAVA_HOME"):
        candidate = Path(java_home) / "bin" / "java"
        if candidate.is_file():
            return str(candidate)
    return shutil.which("java")


def find_apache_kafka(env: Mapping[str, str] | None = None) -> KafkaInstall:
    """The JDK and jars to run Apache Kafka with; :class:`BrokerNotFound` says what is missing."""
    env = os.environ if env is None else env
    java = find_java(env)
    if java is None:
        raise BrokerNotFound(f"no Java runtime: {INSTALL_HINT}")
    if home := env.get(HOME_ENV):
        libs = Path(home) / "libs"
        jars = sorted(libs.glob("kafka_2.*-*.jar")) if libs.is_dir() else []
        core = [jar for jar in jars if not re.search(r"-(sources|javadoc|test)\.jar$", jar.name)]
        if not core:
            raise BrokerNotFound(f"{HOME_ENV}={home} has no libs/kafka_2.*.jar")
        version = core[0].stem.split("-", 1)[1]
        return KafkaInstall(java, libs, version)
    version = pinned_version()
    libs = cache_libs(version)
    if not (libs / ".complete").exists():
        raise BrokerNotFound(
            f"Apache Kafka {version} jars not in {libs} (run `make kafka`: needs mvn and"
            f" Maven Central, or set {HOME_ENV} to an unpacked Apache Kafka)"
        )
    return KafkaInstall(java, libs, version)


#: Printed when no broker can be run here: what to install, or how to use one that exists.
INSTALL_HINT: Final = (
    "install a JDK 17 and Maven (Debian: apt-get install openjdk-17-jre-headless maven), or"
    " point at an existing cluster (journeys up --kafka HOST:PORT) or an unpacked Apache Kafka"
    f" ({HOME_ENV})"
)


def new_cluster_id() -> str:
    """A KRaft cluster id: a random UUID, base64url without padding (what kafka-storage makes).

    Like Kafka's own ``Uuid.randomUuid``, never one starting with "-": the storage tool's
    argument parser would read it as an option (1 run in 64 failed to start the broker).
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


class ApacheKafkaBroker(BrokerProcess):
    """One Apache Kafka KRaft node on ``host:port``; a context manager.

    ``optimise=False`` runs the JIT's quick tier only (less CPU to start, slower at full
    load): for test sessions. ``data_dir`` holds the config, the log directory and nothing
    else; when not given a temporary one is made and removed by :meth:`stop`. A given
    ``data_dir`` is wiped and formatted at each start (the local stack's messages live for
    one run) unless ``keep_log``.

    As one node of a cluster (:class:`devstack.kafka_cluster.KafkaCluster`) it is given its
    ``node_id``, its ``controller_port``, the quorum's ``voters``
    (``controller.quorum.voters``) and the ``cluster_id`` every node is formatted with;
    without them it is node 1 of a cluster of its own on a free controller port.
    """

    kind: Final = "apache"

    def __init__(
        self,
        port: int | None = None,
        host: str = "127.0.0.1",
        *,
        install: KafkaInstall | None = None,
        data_dir: Path | None = None,
        log_path: Path | None = None,
        heap_mb: int = 512,
        ready_timeout: float = 300.0,
        overrides: Mapping[str, str] | None = None,
        optimise: bool = True,
        keep_log: bool = False,
        node_id: int = 1,
        controller_port: int | None = None,
        voters: str | None = None,
        cluster_id: str | None = None,
    ) -> None:
        self.host = host
        self.port = port if port is not None else free_port(host)
        self.install = install or find_apache_kafka()
        self.version = self.install.version
        self.name = f"kafka broker (Apache Kafka {self.version})"
        self._owns_dir = data_dir is None
        # An owned directory is made by start() and removed by stop().
        self.data_dir = data_dir or Path(tempfile.gettempdir()) / f"apache-kafka-{uuid.uuid4().hex}"
        self.log_path = log_path or self.data_dir / "broker.log"
        self.heap_mb = heap_mb
        self.ready_timeout = ready_timeout
        self.overrides = dict(overrides or {})
        self.optimise = optimise
        #: Start again on the log of the previous start, like a production broker's restart
        #: (the chaos suite's broker restart); otherwise every start begins empty.
        self.keep_log = keep_log
        self.node_id = node_id
        #: A given controller port is kept across starts (the other voters know it); otherwise
        #: each fresh start picks a free one.
        self._fixed_controller = controller_port is not None
        self.controller_port = controller_port or 0
        self.voters = voters
        self.cluster_id = cluster_id
        super().__init__()

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` for Kafka clients."""
        return f"{self.host}:{self.port}"

    def server_properties(self) -> dict[str, str]:
        """The broker's configuration (after :meth:`start` chose the controller port)."""
        h, broker, controller = self.host, self.port, self.controller_port
        return {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "controller.quorum.voters": self.voters or f"{self.node_id}@{h}:{controller}",
            "listeners": f"PLAINTEXT://{h}:{broker},CONTROLLER://{h}:{controller}",
            "advertised.listeners": f"PLAINTEXT://{h}:{broker}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir / "logs"),
            **SMALL_NODE_SETTINGS,
            **self.overrides,
        }

    def _java(
        self, main: str, *args: str, log_level: str = "INFO", short_lived: bool = False
    ) -> list[str]:
        # A short-lived JVM (the format tool, a test session's broker) gains little from the
        # optimising compiler but its CPU time, which a starved machine needs to start at all.
        optimised = self.optimise and not short_lived
        jit = ["-XX:CICompilerCount=2"] if optimised else ["-XX:TieredStopAtLevel=1"]
        return [
            self.install.java,
            f"-Xms{min(128, self.heap_mb)}m",
            f"-Xmx{self.heap_mb}m",
            *jit,
            *_JVM_OPTIONS,
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}",
            f"-Djourneys.kafka.log.level={log_level}",
            "-cp",
            self.install.classpath,
            main,
            *args,
        ]

    def _prepare(self) -> Path:
        """Wipe the log directory, write the configuration, format for KRaft.

        With ``keep_log`` a directory formatted by an earlier start is kept as it is, and the
        controller keeps its port.
        """
        restarting = self.keep_log and (self.data_dir / "logs" / "meta.properties").exists()
        if not restarting:
            shutil.rmtree(self.data_dir / "logs", ignore_errors=True)
            if not self._fixed_controller:
                self.controller_port = free_port(self.host)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "server.properties"
        config.write_text("".join(f"{k}={v}\n" for k, v in self.server_properties().items()))
        (self.data_dir / "log4j2.properties").write_text(_LOG4J2)
        if restarting:
            return config
        argv = self._java(
            "kafka.tools.StorageTool", "format", "-t", self.cluster_id or new_cluster_id(),
            "-c", str(config),
            log_level="WARN", short_lived=True,
        )  # fmt: skip
        try:
            done = subprocess.run(  # noqa: S603 (our own argv list, no shell)
                argv, capture_output=True, text=True, timeout=self.ready_timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BrokerStartError(f"formatting the Kafka log directory failed: {exc}") from exc
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-10:])
            raise BrokerStartError(f"kafka-storage format exited {done.returncode}:\n{tail}")
        return config

    def _ready(self) -> bool:
        return metadata_probe(self.host, self.port, timeout=1.0) and coordinator_probe(
            self.host, self.port, "journeys-probe", timeout=1.0
        )

    def start(self) -> ApacheKafkaBroker:
        """Format, start and wait until ready; raises :class:`BrokerStartError`."""
        self.launch()
        self.wait_ready()
        return self

    def launch(self) -> None:
        """Format and start without waiting until ready (a cluster launches every node first:
        none is ready before enough of them run); raises :class:`BrokerStartError`."""
        if self._process is not None:
            raise BrokerStartError("the Apache Kafka broker is already started")
        if port_open(self.port, self.host):
            raise BrokerStartError(f"port {self.port} on {self.host} is already in use")
        try:
            config = self._prepare()
            self._process = ChildProcess(
                self.name,
                self._java("kafka.Kafka", str(config)),
                self.log_path,
                ready=self._ready,
                ready_timeout_s=self.ready_timeout,
            )
            self._process.launch()
        except BaseException as exc:
            self.stop()
            if isinstance(exc, StackError):
                raise BrokerStartError(str(exc)) from exc
            raise

    def wait_ready(self) -> None:
        """Wait until the launched broker is ready; stops it and raises
        :class:`BrokerStartError` when it exits or is not ready in time."""
        if self._process is None:
            raise BrokerStartError("the Apache Kafka broker is not launched")
        try:
            self._process.wait_ready()
        except BaseException as exc:
            self.stop()
            if isinstance(exc, StackError):
                raise BrokerStartError(str(exc)) from exc
            raise

    def kill(self) -> None:
        """SIGKILL the broker: a crash, no controlled shutdown; its files stay (restartable
        on its log with ``keep_log``)."""
        process, self._process = self._process, None
        if process is not None:
            process.kill()

    def reported_version(self) -> str | None:
        """The version the running broker logged at start (``Kafka version: X``)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return None
        found = re.findall(r"Kafka version: (\S+)", text)
        return found[-1] if found else None

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (a controlled shutdown), SIGKILL after ``timeout``; remove an owned dir."""
        code = super().stop(timeout)
        if self._owns_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        return code


def local_kafka(
    port: int | None = None,
    *,
    data_dir: Path | None = None,
    log_path: Path | None = None,
    optimise: bool = True,
) -> ApacheKafkaBroker:
    """An unstarted local Apache Kafka broker; :class:`BrokerNotFound` says what is missing.

    ``journeys up``, the test fixtures and the benchmarks all start their broker here, so they
    agree on where the JDK and the jars come from (:func:`find_apache_kafka`).
    """
    return ApacheKafkaBroker(
        port, install=find_apache_kafka(), data_dir=data_dir, log_path=log_path, optimise=optimise
    )
