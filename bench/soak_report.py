"""The soak's report: a row per interval, a summary, the events; results.json/.md, latency.png.

Pure functions of the results document (bench/soak.py builds it), so the arithmetic is checked
by tests/unit/bench/test_soak_arithmetic.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.bench_report import format_ms, machine_and_load

#: The processes shown, in this order (roles of bench/proc_tree.py; ``up`` is `journeys up`).
ROLES = ("broker", "store", "responder", "gateway", "up", "loadgen")
ANSWERED = ("200", "404")
#: Seconds either side of an event in which a failed request counts as "in its window".
EVENT_MARGIN_S = 10.0


def errors_of(statuses: dict[str, int]) -> dict[str, int]:
    """The statuses that are not answers (200 with journeys, 404 for a customer without)."""
    return {k: v for k, v in statuses.items() if k not in ANSWERED}


def _label(bucket: dict[str, Any], bucket_s: float) -> str:
    if bucket_s == 60:
        return f"{int(bucket['start_s'] // 60) + 1}"
    return f"{_clock(bucket['start_s'])}-{_clock(bucket['end_s'])}"


def _clock(seconds: float) -> str:
    sign = "-" if seconds < 0 else ""
    whole = int(abs(seconds))
    return f"{sign}{whole // 60}:{whole % 60:02d}"


def columns(bucket_s: float) -> list[str]:
    """The table's header, in :func:`rows` order."""
    first = "minute" if bucket_s == 60 else "m:ss"
    fixed = [first, "requests", "answered", "errors", "p50 ms", "p99 ms", "max ms"]
    return [*fixed, *(f"{role} MB / %" for role in ROLES), "machine %", "others %", "events"]


def rows(document: dict[str, Any]) -> list[list[str]]:
    """One row per interval: load, latency, then RSS and CPU of every process."""
    bucket_s = document["config"]["bucket_s"]
    samples = document["samples"]
    events = document["events"]
    out = []
    for i, bucket in enumerate(document["buckets"]):
        lat = bucket["latency_ms"]
        errors = errors_of(bucket["statuses"])
        sample = samples[i] if i < len(samples) else {"rss_mb": {}, "cpu_pct": {}}
        cells = [
            _label(bucket, bucket_s),
            f"{bucket['requests']:,}",
            f"{bucket['answered']:,}",
            _errors(errors) or "0",
            format_ms(lat["p50"]),
            format_ms(lat["p99"]),
            "-" if lat["max"] is None else f"{lat['max']:.0f}",
        ]
        for role in ROLES:
            rss, cpu = sample["rss_mb"].get(role), sample["cpu_pct"].get(role)
            cells.append(f"{_num(rss)} / {_num(cpu)}")
        cells.append(_num(sample["cpu_pct"].get("machine")))
        cells.append(_num(others_pct(sample["cpu_pct"], document["machine"]["cpus"])))
        inside = [e for e in events if bucket["start_s"] <= e["at_s"] < bucket["end_s"]]
        cells.append(str(len(inside)) if inside else "")
        out.append(cells)
    return out


def others_pct(cpu_pct: dict[str, float], cpus: int) -> float | None:
    """CPU of every process outside the soak (other users of the machine), % of one core:
    the machine's busy share of all cores minus what the stack and the load generator used."""
    if "machine" not in cpu_pct:
        return None
    ours = sum(v for k, v in cpu_pct.items() if k != "machine")
    return max(0.0, cpu_pct["machine"] * cpus - ours)


def _errors(errors: dict[str, int]) -> str:
    return ", ".join(f"{status}: {count:,}" for status, count in errors.items())


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def event_windows(events: list[dict[str, Any]], margin_s: float) -> list[tuple[float, float]]:
    """(from, to) seconds of each event: ``margin_s`` either side of when it was printed."""
    return [(event["at_s"] - margin_s, event["at_s"] + margin_s) for event in events]


def summary(document: dict[str, Any]) -> dict[str, Any]:
    """Totals, error share, last-over-first p99 and errors inside / outside event windows."""
    buckets = document["buckets"]
    requests = sum(b["requests"] for b in buckets)
    errors: dict[str, int] = {}
    for bucket in buckets:
        for status, count in errors_of(bucket["statuses"]).items():
            errors[status] = errors.get(status, 0) + count
    total_errors = sum(errors.values())
    first = buckets[0]["latency_ms"]["p99"] if buckets else None
    last = buckets[-1]["latency_ms"]["p99"] if buckets else None
    ratio = None if first is None or last is None or first == 0 else last / first
    p99s = [b["latency_ms"]["p99"] for b in buckets]
    median = None if not p99s or None in p99s else float(np.median(p99s))
    windows = event_windows(document["events"], EVENT_MARGIN_S)
    inside = 0
    for second, count in document["unanswered_per_second"].items():
        if any(start < int(second) + 1 and int(second) < end for start, end in windows):
            inside += count
    return {
        "requests": requests,
        "answered": sum(b["answered"] for b in buckets),
        "errors": total_errors,
        "errors_by_status": errors,
        "error_pct": 100.0 * total_errors / requests if requests else 0.0,
        "p99_first_ms": first,
        "p99_last_ms": last,
        "p99_last_over_first": ratio,
        "p99_median_ms": median,
        "p99_last_over_median": None if median is None or last is None else last / median,
        "errors_in_event_windows": inside,
        "errors_outside_event_windows": total_errors - inside,
    }


def summary_lines(document: dict[str, Any]) -> list[str]:
    """The summary as sentences."""
    s = summary(document)
    broker = document["broker"]
    idle = document.get("idle_cpu_pct", {})
    by_status = f" ({_errors(s['errors_by_status'])})" if s["errors"] else ""
    return [
        f"broker: {broker['label']}; {document['config']['rate']:g} req/s "
        f"for {document['config']['minutes']:g} min (open loop, latency from scheduled send)",
        f"requests {s['requests']:,}, answered {s['answered']:,}, errors {s['errors']:,} "
        f"= {s['error_pct']:.3f} %{by_status}",
        f"p99 last interval / first interval: {format_ms(s['p99_last_ms'])} / "
        f"{format_ms(s['p99_first_ms'])} ms = {_ratio(s['p99_last_over_first'])}; "
        f"last / median interval ({format_ms(s['p99_median_ms'])} ms): "
        f"{_ratio(s['p99_last_over_median'])}",
        f"events: {len(document['events'])}; errors due within {EVENT_MARGIN_S:g} s of one: "
        f"{s['errors_in_event_windows']:,}, elsewhere: {s['errors_outside_event_windows']:,}",
        "idle CPU % after the load: "
        + (", ".join(f"{k} {v:.0f}" for k, v in idle.items()) or "not measured"),
    ]


def _ratio(value: float | None) -> str:
    return "∞" if value is None else f"x{value:.2f}"


def markdown(document: dict[str, Any]) -> str:
    """results.md: the table, the summary and every event."""
    machine = document["machine"]
    head = columns(document["config"]["bucket_s"])
    lines = [
        f"Soak {document['started_at']} on {machine_and_load(machine)}.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
        *("| " + " | ".join(row) + " |" for row in rows(document)),
        "",
        *(f"- {line}" for line in summary_lines(document)),
        "",
        "Events (what `journeys up` printed during the load; m:ss from the measured start):",
        "",
        *(f"- {_clock(e['at_s'])} {e['text']}" for e in document["events"]),
        "",
        "∞ = that percentile fell on a request without an answer. MB = resident memory; % = CPU "
        "over the interval as % of one core (machine: of all cores). `up` is `journeys up` "
        "itself (its supervisor); others % = CPU of processes outside the soak (the machine's "
        "busy time minus the stack's and the load generator's), % of one core.",
    ]
    return "\n".join(lines) + "\n"


def plot(document: dict[str, Any], path: Path) -> None:
    """Latency per interval (with errors per second), RSS and CPU per process over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    buckets, samples = document["buckets"], document["samples"]
    minutes = [b["end_s"] / 60 for b in buckets]
    fig, (lat, mem, cpu) = plt.subplots(3, 1, figsize=(11, 10), sharex=True)
    for key, style in (("p50", "-"), ("p99", "--"), ("max", ":")):
        values = [b["latency_ms"][key] or float("nan") for b in buckets]
        lat.plot(minutes, values, style, marker="o", label=key)
    lat.set(ylabel="latency (ms)", yscale="log", title=f"Soak: {summary_lines(document)[0]}")
    errors = document["unanswered_per_second"]
    if errors:
        bars = lat.twinx()
        bars.bar(
            [int(s) / 60 for s in errors],
            list(errors.values()),
            width=1 / 60,
            color="tab:red",
            alpha=0.5,
            label="errors/s",
        )
        bars.set_ylabel("errors per second")
    sample_minutes = [s["end_s"] / 60 for s in samples]
    for role in ROLES:
        mem.plot(
            sample_minutes,
            [s["rss_mb"].get(role, float("nan")) for s in samples],
            marker=".",
            label=role,
        )
        cpu.plot(
            sample_minutes,
            [s["cpu_pct"].get(role, float("nan")) for s in samples],
            marker=".",
            label=role,
        )
    mem.set(ylabel="RSS (MiB)")
    cpu.set(ylabel="CPU (% of one core)", xlabel="minutes into the measured load")
    for axis in (lat, mem, cpu):
        for event in document["events"]:
            axis.axvline(event["at_s"] / 60, color="grey", linestyle="--", alpha=0.6)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(document: dict[str, Any], out_dir: Path, console: Console) -> None:
    """Write results.json, results.md and latency.png to ``out_dir``; print the table."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(document, indent=2))
    (out_dir / "results.md").write_text(markdown(document))
    plot(document, out_dir / "latency.png")
    head = columns(document["config"]["bucket_s"])
    table = Table(title="Soak of `journeys up`, per interval (open loop, by scheduled send)")
    for i, column in enumerate(head):
        table.add_column(column, justify="left" if i in (0, 3) else "right")
    for row in rows(document):
        table.add_row(*row)
    console.print(table)
    for line in summary_lines(document):
        console.print(line)
    for event in document["events"]:
        console.print(f"event {_clock(event['at_s'])} {escape(event['text'])}", soft_wrap=True)
