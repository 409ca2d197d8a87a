"""``journeys up`` as a user runs it, for bench/soak.py: started, read line by line, stopped.

The ``journeys`` console script of this environment runs in a temporary data directory on free
ports; every line it prints is kept with the time it was read, so lines printed during the load
(a broker restart, a child that died) become events of the soak's report.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.proc_tree import children_by_role, start_ticks
from devstack import StackSecrets, free_up_ports

#: ``journeys up`` prints the curl line last, once a real lookup has gone through Kafka.
READY_PREFIX = "curl "
_BROKER_LINE = re.compile(r"Kafka: (Apache Kafka|Tansu) (\S+)")


@dataclass(frozen=True)
class Line:
    """One line ``journeys up`` printed, and when it was read (``time.monotonic()``)."""

    at: float
    text: str


class UpProcess:
    """``journeys up`` in ``data_dir`` on free ports, with ``JOURNEYS_UP_BROKER=broker``."""

    def __init__(
        self,
        data_dir: Path,
        broker: str,
        demo_customers: int,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.ports = free_up_ports()
        command = Path(sys.executable).with_name("journeys")
        if not command.exists():
            raise FileNotFoundError(f"no journeys console script at {command} (make install)")
        self.argv = [str(command), "up", "--data-dir", str(data_dir)]
        self.argv += ["--demo-customers", str(demo_customers)]
        for option, port in self.ports.items():
            self.argv += [f"--{option}", str(port)]
        # COLUMNS: rich wraps at 80 columns when stdout is not a terminal; a restart line is
        # longer and must arrive whole.
        self.env = {
            **os.environ,
            **(extra_env or {}),
            "JOURNEYS_UP_BROKER": broker,
            "COLUMNS": "1000",
            "PYTHONUNBUFFERED": "1",
        }
        self.lines: deque[Line] = deque(maxlen=10_000)
        self.proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._known_children: dict[int, int | None] = {}  # pid → start_ticks

    @property
    def target(self) -> str:
        """``host:port`` of the gateway."""
        return f"127.0.0.1:{self.ports['gateway-port']}"

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError("journeys up was not started")
        return self.proc.pid

    def start(self, timeout_s: float, say: Callable[[str], None]) -> None:
        """Run ``journeys up`` and wait until it prints that it is ready (``say`` hears every
        line until then); raises RuntimeError with its output if it exits or times out."""
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=self.env,
            text=True,
            # Its own session: Ctrl-C on the soak reaches it only through stop().
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._pump, name="journeys-up-stdout", daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout_s
        shown = 0
        while time.monotonic() < deadline:
            lines = list(self.lines)
            for line in lines[shown:]:
                say(line.text)
                if line.text.startswith(READY_PREFIX):
                    return
            shown = len(lines)
            if self.proc.poll() is not None and not self._reader.is_alive():
                raise RuntimeError(f"journeys up exited ({self.proc.returncode}):\n{self.output()}")
            time.sleep(0.1)
        raise RuntimeError(f"journeys up not ready within {timeout_s:.0f} s:\n{self.output()}")

    def _pump(self) -> None:
        assert self.proc is not None
        assert self.proc.stdout is not None
        for text in self.proc.stdout:
            self.lines.append(Line(time.monotonic(), text.rstrip("\n")))

    def output(self) -> str:
        """Everything it printed so far."""
        return "\n".join(line.text for line in self.lines)

    def broker(self) -> tuple[str, str]:
        """(kind, version) of the broker, from the line naming it (``?`` if none was seen)."""
        for line in self.lines:
            if match := _BROKER_LINE.search(line.text):
                kind = "apache" if match.group(1) == "Apache Kafka" else "tansu"
                return kind, match.group(2)
        return "?", "?"

    def api_key(self) -> str:
        """The API key ``journeys up`` made for this data directory."""
        return StackSecrets.model_validate_json((self.data_dir / "stack.json").read_text()).api_key

    def lines_since(self, since: float) -> list[Line]:
        """The lines read at or after ``since`` (``time.monotonic()``)."""
        return [line for line in self.lines if line.at >= since]

    def remember_children(self) -> None:
        """Note its current descendants, to kill them should it not stop them itself."""
        if self.proc is not None and self.proc.poll() is None:
            for pid in children_by_role(self.proc.pid):
                self._known_children[pid] = start_ticks(pid)

    def stop(self, grace_s: float = 90.0) -> int | None:
        """Ctrl-C it (it stops its children), then SIGTERM, then SIGKILL it and every child it
        was seen with. Returns its exit code."""
        if self.proc is None:
            return None
        self.remember_children()
        for signum, wait_s in ((signal.SIGINT, grace_s), (signal.SIGTERM, 30.0)):
            if self.proc.poll() is not None:
                break
            self.proc.send_signal(signum)
            try:
                self.proc.wait(timeout=wait_s)
            except subprocess.TimeoutExpired:
                continue
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        # Its children lead their own sessions: one it did not stop would outlive it.
        for pid, started in self._known_children.items():
            if started is not None and start_ticks(pid) == started:  # the same process
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        if self._reader is not None:
            self._reader.join(timeout=5)
        return self.proc.returncode
