"""CPU time of processes and of the whole machine, read from /proc (Linux)."""

from __future__ import annotations

import os
from dataclasses import dataclass

_TICKS = os.sysconf("SC_CLK_TCK")
#: Thread names (``comm``, cut to 15 characters) of a JVM's JIT compiler threads.
JIT_THREADS = ("C1 CompilerThre", "C2 CompilerThre")


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` (all its threads), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            text = stat.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; the fields after its ')' are fixed.
    fields = text[text.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def threads_cpu_s(pid: int, names: tuple[str, ...]) -> float | None:
    """User + system CPU seconds of the threads of ``pid`` whose name starts with one of
    ``names`` (0.0 when it has none), or None if the process is gone."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    total = 0.0
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/stat", "rb") as stat:
                text = stat.read()
        except OSError:
            continue  # the thread ended meanwhile
        name = text[text.index(b"(") + 1 : text.rindex(b")")].decode(errors="replace")
        if name.startswith(names):
            fields = text[text.rindex(b")") + 2 :].split()
            total += (int(fields[11]) + int(fields[12])) / _TICKS
    return total


def machine_cpu_s() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, summed over cores."""
    with open("/proc/stat", "rb") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # without guest time, which is already counted in user
    return (total - idle) / _TICKS, total / _TICKS


@dataclass
class CpuSample:
    """CPU counters of named processes and of the machine at one moment."""

    processes: dict[str, float | None]
    machine_busy_s: float
    machine_total_s: float

    @classmethod
    def take(cls, pids: dict[str, int]) -> CpuSample:
        """Every process of ``pids``; for the one named ``broker`` also ``jit``: its JIT
        compiler threads (a JVM's warm-up cost, part of ``broker``; 0 for a native broker)."""
        busy, total = machine_cpu_s()
        processes = {name: process_cpu_s(pid) for name, pid in pids.items()}
        if "broker" in pids:
            processes["jit"] = threads_cpu_s(pids["broker"], JIT_THREADS)
        return cls(processes, busy, total)

    def percent_since(self, earlier: CpuSample, wall_s: float) -> dict[str, float]:
        """Per process: % of one core between ``earlier`` and this sample; plus ``machine``
        (busy % of all cores, 100 = every core busy)."""
        out: dict[str, float] = {}
        for name, now in self.processes.items():
            before = earlier.processes.get(name)
            if now is not None and before is not None and wall_s > 0:
                out[name] = 100.0 * (now - before) / wall_s
        total = self.machine_total_s - earlier.machine_total_s
        if total > 0:
            out["machine"] = 100.0 * (self.machine_busy_s - earlier.machine_busy_s) / total
        return out
