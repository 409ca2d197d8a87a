"""Brokers side by side (``e2e_bench.py --brokers tansu,apache``): one table, plot and docs block.

The input is one results document per broker, each from a fresh stack of the same run (see
:func:`bench.e2e_bench.run_stack`). For each offered rate of the open loop: answered req/s,
p50/p99 of the Kafka path, the same stack's baseline (direct path) and the ratio to it, and
the CPU milliseconds per answered request of each process; then the closed-loop maximum and
each process's idle CPU. The per-broker tables of bench_report follow in results.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.bench_report import (
    copy_plot,
    format_ms,
    machine_name,
    markdown,
    open_phase,
    replace_block,
)

#: Processes whose CPU per request is shown (prefixes of the names in ``cpu_pct``).
PROCESSES = ("broker", "gateway", "responder", "store", "loadgen")
#: The system under test: every process but the load generator (as in bench_report).
SUT = ("broker", "gateway", "responder", "store", "direct")
#: Processes whose idle CPU is shown (the load generator is not running then); ``jit`` is the
#: broker's JIT compiler threads, a part of ``broker`` (see bench/proc_cpu.py).
IDLE = ("broker", "jit", "gateway", "responder", "store", "direct", "machine")


def cpu_ms_per_request(phase: dict[str, Any], prefixes: tuple[str, ...]) -> float | None:
    """CPU ms that the processes named by ``prefixes`` spent per answered request."""
    cpu = phase.get("cpu_pct", {})
    values = [v for k, v in cpu.items() if k.startswith(prefixes)]
    if not values or phase["achieved_rps"] <= 0:
        return None
    # cpu_pct is % of one core over the window: % x 10 = CPU ms per second.
    return float(sum(values)) * 10 / float(phase["achieved_rps"])


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _p50_p99(phase: dict[str, Any] | None) -> str:
    if phase is None:
        return "not run"
    lat = phase["latency_ms"]
    return f"{format_ms(lat['p50'])} / {format_ms(lat['p99'])}"


def _ratio(kafka: dict[str, Any], direct: dict[str, Any] | None) -> str:
    if direct is None:
        return "-"
    cells = []
    for key in ("p50", "p99"):
        k, d = kafka["latency_ms"][key], direct["latency_ms"][key]
        cells.append("-" if not k or not d else f"x{k / d:.2f}")
    return " / ".join(cells)


def _answered(phase: dict[str, Any]) -> str:
    errors = sum(v for k, v in phase["statuses"].items() if k not in ("200", "404"))
    text = f"{phase['achieved_rps']:.0f}"
    return f"{text} ({errors} errors)" if errors else text


def rates(documents: list[dict[str, Any]]) -> list[float]:
    """Every offered rate of a Kafka-path open-loop phase in any document, ascending."""
    found = {
        float(p["offered_rps"])
        for d in documents
        for p in d["phases"]
        if p["path"] == "kafka" and p["mode"] == "open"
    }
    return sorted(found)


def _rate_rows(documents: list[dict[str, Any]], rate: float) -> list[list[str]]:
    kafka = [open_phase(d["phases"], "kafka", rate) for d in documents]
    direct = [open_phase(d["phases"], "direct", rate) for d in documents]
    rows = [
        ["answered req/s", *("not run" if k is None else _answered(k) for k in kafka)],
        ["p50 / p99 ms", *(_p50_p99(k) for k in kafka)],
        ["baseline p50 / p99 ms", *(_p50_p99(d) for d in direct)],
        ["÷ baseline p50 / p99",
         *("-" if k is None else _ratio(k, d) for k, d in zip(kafka, direct, strict=True))],
    ]  # fmt: skip
    for process in PROCESSES:
        cells = ["-" if k is None else _ms(cpu_ms_per_request(k, (process,))) for k in kafka]
        rows.append([f"CPU ms/req {process}", *cells])
        if process == "broker":
            jit = ["-" if k is None else _ms(cpu_ms_per_request(k, ("jit",))) for k in kafka]
            rows.append(["… of which JIT compiler", *jit])
    sut = ["-" if k is None else _ms(cpu_ms_per_request(k, SUT)) for k in kafka]
    rows.append(["CPU ms/req all but loadgen", *sut])
    return [[f"{rate:.0f}" if i == 0 else "", *row] for i, row in enumerate(rows)]


def _closed_row(documents: list[dict[str, Any]]) -> list[str] | None:
    cells = []
    for document in documents:
        closed = [p for p in document["phases"] if p["path"] == "kafka" and p["mode"] == "closed"]
        if not closed:
            cells.append("not run")
            continue
        phase = closed[0]
        p99 = format_ms(phase["latency_ms"]["p99"])
        cells.append(f"{phase['achieved_rps']:.0f} (p99 {p99} ms)")
    if all(cell == "not run" for cell in cells):
        return None
    return ["closed", "most answered req/s (closed loop)", *cells]


def _idle_rows(documents: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for i, process in enumerate(IDLE):
        cells = []
        for document in documents:
            idle = document.get("idle_cpu_pct", {})
            values = [v for k, v in idle.items() if k.startswith(process)]
            cells.append(f"{sum(values):.1f}" if values else "-")
        name = {"machine": "machine busy % (of all cores)", "jit": "… of which JIT compiler"}.get(
            process, f"CPU % {process}"
        )
        rows.append(["idle" if i == 0 else "", name, *cells])
    return rows


def header(documents: list[dict[str, Any]]) -> list[str]:
    """Column names: rate, measure, then each broker's kind and version."""
    return ["req/s", "measure", *(d["broker"]["label"] for d in documents)]


def side_by_side(documents: list[dict[str, Any]]) -> list[list[str]]:
    """The table's rows, grouped by rate (the rate is written on each group's first row)."""
    out: list[list[str]] = []
    for rate in rates(documents):
        out += _rate_rows(documents, rate)
    if (closed := _closed_row(documents)) is not None:
        out.append(closed)
    return out + _idle_rows(documents)


NOTES = (
    "Open loop, latency from the scheduled send. Baseline = bench/direct_app.py on the same "
    "stack (the lookup without Kafka). CPU ms/req = CPU of that process over the measured "
    "window per answered request, idle polling included (at 50 req/s it is mostly idle "
    "polling). \"Of which JIT compiler\": the part of the broker's CPU spent by the JVM's "
    "C1/C2 compiler threads (a warm-up cost; Tansu has none). CPU % is of one core. Idle = no "
    "requests, after an unmeasured warm-up; the load generator is not running then."
)


def markdown_table(document: dict[str, Any]) -> str:
    """The side-by-side table with the run's command, machine and load averages."""
    documents = document["brokers"]
    machine = document["machine"]
    loads = "; ".join(
        f"{d['broker']['label']} {d['machine']['loadavg_before']} → "
        f"{d['machine'].get('loadavg_after')}"
        for d in documents
    )
    warm = ", ".join(f"{d['broker']['label']} {d.get('warm_s', 0):g} s" for d in documents)
    columns = header(documents)
    lines = [
        f"Run {document['started_at']}: `{document['config']['command']}`",
        "",
        f"Machine: {machine_name(machine)}, "
        f"Linux {machine['kernel']}, Python {machine['python']}. Load average (1/5/15 min) "
        f"before and after each broker's stack: {loads}. Unmeasured warm-up on the Kafka path "
        f"before the idle measurement: {warm}.",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
        *("| " + " | ".join(row) + " |" for row in side_by_side(documents)),
        "",
        NOTES,
    ]
    return "\n".join(lines) + "\n"


def plot(documents: list[dict[str, Any]], path: Path) -> None:
    """p50/p99 against offered rate per broker (and its baseline); CPU ms/req per process."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    colours = ("tab:red", "tab:green", "tab:purple", "tab:orange")
    for document, colour in zip(documents, colours, strict=False):
        label = document["broker"]["label"]
        for name, alpha in (("kafka", 1.0), ("direct", 0.4)):
            phases = [p for p in document["phases"] if p["path"] == name and p["mode"] == "open"]
            xs = [p["offered_rps"] for p in phases]
            for key, style in (("p50", "-"), ("p99", "--")):
                ys = [p["latency_ms"][key] or float("nan") for p in phases]
                what = label if name == "kafka" else f"baseline ({label} stack)"
                left.plot(xs, ys, style, color=colour, alpha=alpha, marker="o",
                          label=f"{what} {key}")  # fmt: skip
    left.set(xlabel="offered rate (req/s)", ylabel="latency (ms, from scheduled send)",
             yscale="log", title="Latency vs offered rate (open loop)")  # fmt: skip
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=7)
    _cpu_bars(right, documents)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _cpu_bars(axes: Any, documents: list[dict[str, Any]]) -> None:
    """Stacked bars: CPU ms per request of each process, one bar per broker and rate."""
    width = 0.8 / max(len(documents), 1)
    all_rates = rates(documents)
    colours = {"broker": "tab:red", "gateway": "tab:blue", "responder": "tab:green",
               "store": "tab:brown", "loadgen": "tab:gray"}  # fmt: skip
    for i, document in enumerate(documents):
        bottoms = [0.0] * len(all_rates)
        xs = [r + (i - (len(documents) - 1) / 2) * width for r in range(len(all_rates))]
        for process in PROCESSES:
            heights = []
            for rate in all_rates:
                phase = open_phase(document["phases"], "kafka", rate)
                value = None if phase is None else cpu_ms_per_request(phase, (process,))
                heights.append(value or 0.0)
            axes.bar(xs, heights, width * 0.95, bottom=bottoms, color=colours[process],
                     edgecolor="black", linewidth=0.3,
                     label=process if i == 0 else None)  # fmt: skip
            bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
        for x, top in zip(xs, bottoms, strict=True):
            axes.text(x, top, document["broker"]["kind"], ha="center", va="bottom", fontsize=7)
    axes.set_xticks(range(len(all_rates)), [f"{r:.0f}" for r in all_rates])
    axes.set(xlabel="offered rate (req/s)", ylabel="CPU ms per answered request",
             title="Kafka path: CPU per request of each process")  # fmt: skip
    axes.grid(True, axis="y", alpha=0.3)
    axes.legend(fontsize=8)


def write_report(document: dict[str, Any], out_dir: Path, console: Console) -> None:
    """results.json, results.md (side by side, then each broker's own tables), brokers.png;
    prints the side-by-side table."""
    documents = document["brokers"]
    (out_dir / "results.json").write_text(json.dumps(document, indent=2))
    details = "\n".join(f"## {d['broker']['label']}\n\n{markdown(d)}" for d in documents)
    (out_dir / "results.md").write_text(f"{markdown_table(document)}\n{details}")
    plot(documents, out_dir / "brokers.png")
    table = Table(title="Brokers side by side (Kafka path, open loop; one run)")
    for column in header(documents):
        table.add_column(column, justify="left" if column in ("req/s", "measure") else "right")
    rows = side_by_side(documents)
    for i, row in enumerate(rows):
        last_of_group = i + 1 == len(rows) or rows[i + 1][0] != ""
        table.add_row(*row, end_section=last_of_group)
    console.print(table)
    console.print(NOTES)


def update_docs(document: dict[str, Any], out_dir: Path, doc: Path, image: Path) -> None:
    """Write the side-by-side table between the broker-bench markers of ``doc``."""
    relative = copy_plot(out_dir / "brokers.png", doc, image)
    body = f"\n{markdown_table(document)}\n![brokers: latency and CPU per request]({relative})\n\n"
    replace_block(doc, "broker-bench", body)
