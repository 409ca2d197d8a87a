"""Sample the Python processes of the stack with py-spy during one phase, and summarise.

``py-spy record --format raw`` writes collapsed stacks ("frame;frame;… count"); the summary
per process is the share of CPU samples spent in each function itself (self) and below it
(inclusive), the evidence docs/performance.md quotes. Sampling pauses the process briefly
(not ``--nonblocking``): without that py-spy cannot tell idle threads (Flight and executor
workers waiting) from busy ones, so profiled phases run a little slower than unprofiled ones.
The broker (Apache Kafka, a JVM) is not Python: its CPU is reported, not profiled.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

_TOP = 15


class Profiler:
    """py-spy on each Python process of ``pids`` for one measured window."""

    def __init__(self, out_dir: Path, pids: dict[str, int], rate_hz: int = 200) -> None:
        self.out_dir = out_dir
        self.pids = {name: pid for name, pid in pids.items() if name != "broker"}
        self.rate_hz = rate_hz
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, duration_s: float) -> None:
        """Start sampling every process now, for ``duration_s``."""
        beside = Path(sys.executable).parent / "py-spy"  # the venv's, when PATH lacks it
        binary = str(beside) if beside.exists() else shutil.which("py-spy")
        if binary is None:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for name, pid in self.pids.items():
            argv = [
                binary, "record", "--pid", str(pid), "--duration", str(int(duration_s)),
                "--rate", str(self.rate_hz), "--format", "raw",
                "--output", str(self.out_dir / f"{name}.txt"),
            ]  # fmt: skip
            self._procs[name] = subprocess.Popen(
                argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )

    def finish(self) -> dict[str, Any]:
        """Wait for every sampler; the top functions of each process."""
        summary: dict[str, Any] = {}
        for name, proc in self._procs.items():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            path = self.out_dir / f"{name}.txt"
            if path.exists():
                summary[name] = summarise(path.read_text())
        return summary


def summarise(collapsed: str, top: int = _TOP) -> dict[str, Any]:
    """Self and inclusive sample shares (%) of the busiest functions in collapsed stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(frame) for frame in stack.split(";")]
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if total == 0:
        return {"samples": 0, "self": [], "inclusive": []}

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(frame, round(100 * n / total, 1)) for frame, n in counter.most_common(top)]

    return {"samples": total, "self": share(own), "inclusive": share(inclusive)}


def _short(frame: str) -> str:
    # "function (path/to/module.py:123)" → "function (module.py)": lines split one function.
    name, _, where = frame.partition(" (")
    module = where.rsplit("/", 1)[-1].split(":", 1)[0].rstrip(")")
    return f"{name} ({module})" if module else name
