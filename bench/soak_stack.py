"""``journeys up`` as a user runs it, for bench/soak.py: started, read line by line, stopped.

The ``journeys`` console script of this environment runs in a temporary data directory on free
ports. Its console is read by the reader the tests use (``tests/support/cli_process.py``), which
keeps every line with the time it was read, so lines printed during the load (a child that died
and was restarted) become events of the soak's report.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
from pathlib import Path

from bench.proc_tree import children_by_role, start_ticks
from devstack import StackSecrets, free_up_ports
from tests.support.cli_process import LineReader

#: ``journeys up`` prints the curl line last, once a real lookup has gone through Kafka.
READY_PREFIX = "curl "
_BROKER_LINE = re.compile(r"Kafka: Apache Kafka (\S+)")


class UpProcess(LineReader):
    """``journeys up`` in ``data_dir`` on free ports, started at once."""

    def __init__(
        self, data_dir: Path, demo_customers: int, extra_env: dict[str, str] | None = None
    ) -> None:
        self.data_dir = data_dir
        self.ports = free_up_ports()
        command = Path(sys.executable).with_name("journeys")
        if not command.exists():
            raise FileNotFoundError(f"no journeys console script at {command} (make install)")
        argv = [str(command), "up", "--data-dir", str(data_dir)]
        argv += ["--demo-customers", str(demo_customers)]
        for option, port in self.ports.items():
            argv += [f"--{option}", str(port)]
        self._known_children: dict[int, int | None] = {}  # pid → start_ticks
        # COLUMNS: rich wraps at 80 columns when stdout is not a terminal; an event's line is
        # longer and must arrive whole.
        env = {**(extra_env or {}), "COLUMNS": "1000", "PYTHONUNBUFFERED": "1"}
        super().__init__(argv, env)

    @property
    def target(self) -> str:
        """``host:port`` of the gateway."""
        return f"127.0.0.1:{self.ports['gateway-port']}"

    def broker_version(self) -> str:
        """The broker's version, from the line naming it (``?`` if none was seen)."""
        for line in self.lines:
            if match := _BROKER_LINE.search(line.text):
                return match.group(1)
        return "?"

    def api_key(self) -> str:
        """The API key ``journeys up`` made for this data directory."""
        return StackSecrets.model_validate_json((self.data_dir / "stack.json").read_text()).api_key

    def remember_children(self) -> None:
        """Note its current descendants, to kill them should it not stop them itself."""
        if self.proc.poll() is None:
            for pid in children_by_role(self.proc.pid):
                self._known_children[pid] = start_ticks(pid)

    def stop(self, grace_s: float = 90.0) -> int:
        """SIGTERM it (it stops its children), SIGKILL it after ``grace_s``, then every child
        it was seen with. Returns its exit code."""
        self.remember_children()
        code = self.kill(grace_s)
        # Its children lead their own sessions: one it did not stop would outlive it.
        for pid, started in self._known_children.items():
            if started is not None and start_ticks(pid) == started:  # the same process
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        return code
