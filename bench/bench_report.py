"""The end-to-end benchmark's report: rich tables, results.json, results.md and latency.png."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

COLUMNS = (
    "path", "mode", "offered", "achieved", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms",
    "errors", "broker %", "gateway %", "responder %", "store %", "direct %",
    "loadgen % (late p99 ms)", "machine %", "CPU ms/req",
)  # fmt: skip

#: Processes of the system under test (everything but the load generator and the machine).
_SUT = ("broker", "gateway", "responder", "store", "direct")


def machine_name(machine: dict[str, Any]) -> str:
    """ "AMD EPYC, 2 CPUs, 23.5 GiB": the machine of a report, from :func:`machine_info`."""
    return f"{machine['cpu_model']}, {machine['cpus']} CPUs, {machine['memory_gib']} GiB"


def machine_and_load(machine: dict[str, Any]) -> str:
    """The machine and its load average before and after the run, for a report's first line."""
    return (
        f"{machine_name(machine)}; load average before {machine['loadavg_before']}, "
        f"after {machine.get('loadavg_after')}"
    )


def machine_info() -> dict[str, Any]:
    """CPU model and count, memory, kernel, and the load average before the run."""
    model = "unknown"
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in lscpu.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu_model": model,
        "cpus": os.cpu_count(),
        "memory_gib": round(mem_gib, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg_before": loadavg(),
    }


def loadavg() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded."""
    return [round(x, 2) for x in os.getloadavg()]


def _sum(cpu: dict[str, float], prefix: str) -> str:
    values = [v for k, v in cpu.items() if k.startswith(prefix)]
    return f"{sum(values):.0f}" if values else "-"


def _cpu_per_request(cpu: dict[str, float], achieved_rps: float) -> str:
    """CPU milliseconds the system under test spent per answered request."""
    busy = sum(v for k, v in cpu.items() if k.startswith(_SUT))
    return f"{busy * 10 / achieved_rps:.2f}" if achieved_rps > 0 and cpu else "-"


def format_ms(value: float | None) -> str:
    """Milliseconds for a table; ∞ when the percentile fell on a request without an answer."""
    return "∞" if value is None else f"{value:.2f}"


def _or_inf(value: float | None) -> float:
    return float("inf") if value is None else value


def rows(phases: list[dict[str, Any]]) -> list[list[str]]:
    """One table row per phase, in COLUMNS order."""
    out = []
    for phase in phases:
        lat = phase["latency_ms"]
        cpu = phase.get("cpu_pct", {})
        errors = {k: v for k, v in phase["statuses"].items() if k not in ("200", "404")}
        offered = phase["offered_rps"]
        loadgen = cpu.get("loadgen", phase["loadgen_cpu_pct"])
        out.append([
            phase["path"], phase["mode"],
            "max" if offered is None else f"{offered:.0f}",
            f"{phase['achieved_rps']:.0f}",
            format_ms(lat["p50"]), format_ms(lat["p90"]), format_ms(lat["p99"]),
            format_ms(lat["p99.9"]),
            ", ".join(f"{k}:{v}" for k, v in errors.items()) or "0",
            _sum(cpu, "broker"), _sum(cpu, "gateway"), _sum(cpu, "responder"),
            _sum(cpu, "store"), _sum(cpu, "direct"),
            f"{loadgen:.0f} ({phase['lateness_ms']['p99']:.1f})",
            _sum(cpu, "machine"),
            _cpu_per_request(cpu, phase["achieved_rps"]),
        ])  # fmt: skip
    return out


def open_phase(phases: list[dict[str, Any]], path: str, rate: float) -> dict[str, Any] | None:
    """The open-loop phase of ``path`` at ``rate``, if the run measured it."""
    for phase in phases:
        if phase["path"] == path and phase["mode"] == "open" and phase["offered_rps"] == rate:
            return phase
    return None


def _sustained(phase: dict[str, Any]) -> bool:
    """Kept up: at least 97 % of the offered rate answered, at most 0.1 % errors."""
    errors = sum(v for k, v in phase["statuses"].items() if k not in ("200", "404"))
    kept_up = bool(phase["achieved_rps"] >= 0.97 * phase["offered_rps"])
    return kept_up and errors <= 0.001 * max(phase["requests"], 1)


def targets(phases: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) for each target of the issue that the run can judge."""
    out: list[tuple[str, str, str]] = []
    kafka_1k, direct_1k = open_phase(phases, "kafka", 1000), open_phase(phases, "direct", 1000)
    kafka_50, direct_50 = open_phase(phases, "kafka", 50), open_phase(phases, "direct", 50)
    if kafka_1k is not None:
        p99 = _or_inf(kafka_1k["latency_ms"]["p99"])
        out.append(("Kafka p99 ≤ 10 ms at 1,000 req/s", f"{p99:.1f} ms", _verdict(p99 <= 10)))
    best = 0.0
    for phase in phases:
        kafka_open = phase["path"] == "kafka" and phase["mode"] == "open"
        if kafka_open and _or_inf(phase["latency_ms"]["p99"]) <= 50 and _sustained(phase):
            best = max(best, phase["offered_rps"])
    sustained = ("≥ 3,000 req/s sustained, p99 ≤ 50 ms", f"{best:.0f} req/s")
    out.append((*sustained, _verdict(best >= 3000)))
    if kafka_1k is not None:
        # A direct path that saturated below 1,000 req/s was not driven at it: its p99 is ∞.
        k = _or_inf(kafka_1k["latency_ms"]["p99"])
        d = _or_inf(direct_1k["latency_ms"]["p99"]) if direct_1k is not None else float("inf")
        verdict = _verdict(k <= d and k != float("inf"))
        out.append(("Kafka p99 ≤ direct p99 at 1,000 req/s", f"{k:.1f} vs {d:.1f} ms", verdict))
    if kafka_50 is not None and direct_50 is not None:
        k, d = _or_inf(kafka_50["latency_ms"]["p50"]), _or_inf(direct_50["latency_ms"]["p50"])
        out.append(
            (
                "Kafka p50 ≤ direct p50 + 3 ms at 50 req/s",
                f"+{k - d:.1f} ms ({k:.1f} vs {d:.1f})",
                _verdict(k - d <= 3),
            )
        )
    return out


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def ratios(phases: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """(offered, p50 ratio, p99 ratio, achieved ratio) of Kafka over direct for each rate."""
    out = []
    for phase in phases:
        if phase["path"] != "kafka" or phase["mode"] != "open":
            continue
        direct = open_phase(phases, "direct", phase["offered_rps"])
        if direct is None:
            continue
        cells = []
        for key in ("p50", "p99"):
            k, d = phase["latency_ms"][key], direct["latency_ms"][key]
            cells.append("-" if not k or not d else f"x{k / d:.2f}")
        achieved = phase["achieved_rps"] / max(direct["achieved_rps"], 1e-9)
        out.append((f"{phase['offered_rps']:.0f}", cells[0], cells[1], f"x{achieved:.2f}"))
    return out


def markdown(document: dict[str, Any]) -> str:
    """The results as Markdown tables."""
    phases = document["phases"]
    machine = document["machine"]
    broker = document.get("broker", {}).get("label", "broker not known (--target)")
    lines = [
        f"Run {document['started_at']} ({broker}) on {machine_and_load(machine)}.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
        *("| " + " | ".join(row) + " |" for row in rows(phases)),
        "",
        "Cost of the DMZ (Kafka path over direct path, same run):",
        "",
        "| offered req/s | p50 ratio | p99 ratio | achieved ratio |",
        "|---|---|---|---|",
        *(f"| {' | '.join(r)} |" for r in ratios(phases)),
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
        *(f"| {' | '.join(t)} |" for t in targets(phases)),
        "",
        f"Idle CPU % (no load): {_fmt_cpu(document.get('idle_cpu_pct', {}))}",
        "",
        "Not driven harder after answering < 50 % of the offered rate: "
        + (_fmt_rates(document.get("saturated_at", {})) or "none"),
        "",
        "∞ = that percentile fell on a request without an answer (error or timeout). "
        "CPU % is of one core (200 % = both cores); CPU ms/req = CPU of the system under "
        "test (broker, gateways, responders, store, direct app) per answered request.",
    ]
    return "\n".join(lines) + "\n"


def _fmt_rates(saturated: dict[str, float]) -> str:
    return ", ".join(f"{path} at {rate:.0f} req/s" for path, rate in saturated.items())


def _fmt_cpu(cpu: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.0f}" for name, value in cpu.items())


def plot(phases: list[dict[str, Any]], path: Path) -> None:
    """Latency percentiles (log scale) and Kafka-path CPU per process against offered rate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    styles = {"p50": "-", "p99": "--", "p99.9": ":"}
    for name, colour in (("direct", "tab:blue"), ("kafka", "tab:red")):
        open_phases = [p for p in phases if p["path"] == name and p["mode"] == "open"]
        rates = [p["offered_rps"] for p in open_phases]
        for key, style in styles.items():
            values = [p["latency_ms"][key] or float("nan") for p in open_phases]
            left.plot(rates, values, style, color=colour, marker="o", label=f"{name} {key}")
    left.set(xlabel="offered rate (req/s)", ylabel="latency (ms, from scheduled send)",
             yscale="log", title="Latency vs offered rate (open loop)")  # fmt: skip
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8)
    kafka = [p for p in phases if p["path"] == "kafka" and p["mode"] == "open"]
    rates = [p["offered_rps"] for p in kafka]
    for prefix in ("broker", "gateway", "responder", "store", "loadgen"):
        values = [float(_sum(p.get("cpu_pct", {}), prefix).replace("-", "nan")) for p in kafka]
        right.plot(rates, values, marker="o", label=prefix)
    right.plot(rates, [p["achieved_rps"] / 20 for p in kafka], "k:", label="achieved ÷ 20")
    right.set(xlabel="offered rate (req/s)", ylabel="CPU (% of one core)",
              title="Kafka path: CPU per process")  # fmt: skip
    right.grid(True, alpha=0.3)
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def replace_block(doc: Path, name: str, body: str) -> None:
    """Replace what lies between ``<!-- name:begin -->`` and ``<!-- name:end -->`` in ``doc``
    with ``body``; raises ValueError when the markers are missing."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = doc.read_text()
    if begin not in text or end not in text:
        raise ValueError(f"{doc} has no {begin} … {end} section")
    head, rest = text.split(begin, 1)
    tail = rest.split(end, 1)[1]
    doc.write_text(head + begin + body + end + tail)


def copy_plot(source: Path, doc: Path, image: Path) -> str:
    """Copy the plot ``source`` to ``image``; its path relative to ``doc`` for a link."""
    image.parent.mkdir(parents=True, exist_ok=True)
    image.write_bytes(source.read_bytes())
    return image.relative_to(doc.parent).as_posix()


def update_docs(document: dict[str, Any], out_dir: Path, doc: Path, image: Path) -> None:
    """Put this run's tables between the bench markers of ``doc`` and its plot at ``image``."""
    relative = copy_plot(out_dir / "latency.png", doc, image)
    body = f"\n{markdown(document)}\n![latency and CPU against offered rate]({relative})\n\n"
    replace_block(doc, "bench", body)


def write_report(document: dict[str, Any], out_dir: Path, console: Console) -> None:
    """Write results.json, results.md and latency.png to ``out_dir``; print the tables."""
    (out_dir / "results.json").write_text(json.dumps(document, indent=2))
    (out_dir / "results.md").write_text(markdown(document))
    plot(document["phases"], out_dir / "latency.png")
    table = Table(title="Request path, open loop (latency from scheduled send) and closed loop")
    for column in COLUMNS:
        table.add_column(column, justify="left" if column in ("path", "mode") else "right")
    for row in rows(document["phases"]):
        table.add_row(*row)
    console.print(table)
    cost = Table(title="Cost of the DMZ (Kafka ÷ direct)")
    for column in ("offered req/s", "p50", "p99", "achieved"):
        cost.add_column(column, justify="right")
    for ratio in ratios(document["phases"]):
        cost.add_row(*ratio)
    console.print(cost)
    verdicts = Table(title="Targets")
    for column in ("target", "measured", "verdict"):
        verdicts.add_column(column)
    for target in targets(document["phases"]):
        verdicts.add_row(*target)
    console.print(verdicts)
    console.print(f"idle CPU %: {_fmt_cpu(document.get('idle_cpu_pct', {}))}")
