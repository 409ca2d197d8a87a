"""The processes under one parent, by role, with their memory and CPU, read from /proc (Linux).

bench/soak.py watches ``journeys up``: its children (broker, store, responder, gateway) are
found afresh at every sample, because ``journeys up`` restarts a crashed child under a new pid.
A role's figures are the sum over the child and everything it started itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from bench.proc_cpu import machine_cpu_s, process_cpu_s

_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20

#: How a child of ``journeys up`` is recognised from its command line (first match wins).
ROLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("broker", ("kafka.Kafka",)),  # Apache Kafka: java … kafka.Kafka server.properties
    ("store", ("store", "serve")),
    ("store", ("postgres",)),
    ("responder", ("responder", "run")),
    ("gateway", ("gateway", "serve")),
)


def role_of(cmdline: list[str]) -> str:
    """The role of a process from its argv: a :data:`ROLES` name, else its program's name."""
    for role, needles in ROLES:
        if all(any(needle in arg for arg in cmdline) for needle in needles):
            return role
    return os.path.basename(cmdline[0]) if cmdline else "?"


def _cmdline(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as raw:
            return [a.decode(errors="replace") for a in raw.read().split(b"\0") if a]
    except OSError:
        return None


def _stat_fields(pid: int) -> list[bytes] | None:
    """The fields of /proc/<pid>/stat after the command name (field 3 onwards)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            text = stat.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; the fields after its ')' are fixed.
    return text[text.rindex(b")") + 2 :].split()


def _parent(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[1])


def start_ticks(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot): with the pid, names one process even
    after the pid has been reused. None if it is gone."""
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[19])


def rss_mb(pid: int) -> float | None:
    """Resident memory of ``pid`` in MiB, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_MB
    except (OSError, IndexError, ValueError):
        return None


def children_by_role(root: int) -> dict[int, str]:
    """Every descendant of ``root``: pid → role of the child of ``root`` it descends from."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (ppid := _parent(int(entry))) is not None:
            parents[int(entry)] = ppid
    roles: dict[int, str] = {}
    for pid in parents:
        chain, at = [pid], parents.get(pid)
        while at is not None and at != root and at in parents:
            chain.append(at)
            at = parents.get(at)
        if at == root:
            top = chain[-1]  # the direct child of root
            roles[pid] = role_of(_cmdline(top) or [])
    return roles


@dataclass
class TreeSample:
    """CPU seconds and RSS of each process at one moment, with the roles they belong to."""

    cpu_s: dict[int, float]
    rss_mb: dict[int, float]
    roles: dict[int, str]
    machine_busy_s: float
    machine_total_s: float

    @classmethod
    def take(cls, root: int, extra: dict[str, int] | None = None) -> TreeSample:
        """Sample ``root``, its descendants and ``extra`` processes (role → pid)."""
        roles = children_by_role(root)
        roles[root] = "up"
        for role, pid in (extra or {}).items():
            roles[pid] = role
        cpu, rss = {}, {}
        for pid in roles:
            if (used := process_cpu_s(pid)) is not None:
                cpu[pid] = used
            if (resident := rss_mb(pid)) is not None:
                rss[pid] = resident
        busy, total = machine_cpu_s()
        return cls(cpu, rss, roles, busy, total)

    def since(self, earlier: TreeSample, wall_s: float) -> RoleUsage:
        """Per role: RSS now and % of one core since ``earlier``; a process that started in
        between counts from zero (it did not exist at the earlier sample)."""
        usage = RoleUsage()
        for pid, role in self.roles.items():
            if pid in self.rss_mb:
                usage.rss_mb[role] = usage.rss_mb.get(role, 0.0) + self.rss_mb[pid]
            if pid in self.cpu_s and wall_s > 0:
                used = self.cpu_s[pid] - earlier.cpu_s.get(pid, 0.0)
                usage.cpu_pct[role] = usage.cpu_pct.get(role, 0.0) + 100.0 * used / wall_s
        total = self.machine_total_s - earlier.machine_total_s
        if total > 0:
            busy = self.machine_busy_s - earlier.machine_busy_s
            usage.cpu_pct["machine"] = 100.0 * busy / total
        return usage


@dataclass
class RoleUsage:
    """RSS (MiB) and CPU (% of one core; ``machine``: % of all cores) of each role."""

    rss_mb: dict[str, float] = field(default_factory=dict)
    cpu_pct: dict[str, float] = field(default_factory=dict)
