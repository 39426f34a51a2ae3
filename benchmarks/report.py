"""From measurements to figures: each workload's metric, medians with min-max, legato's
ratio to each peer pair by pair, the targets, and the Markdown table."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

DASH, TIMES = "\u2013", "\u00d7"  # en dash and multiplication sign, as the tables print


@dataclass(frozen=True)
class Metric:
    unit: str
    higher_is_better: bool
    target: float | None
    """legato's target on this machine (SQLite default), in ``unit``."""

    def of(self, workload: str, seconds: float, n: int) -> float:
        if workload == "chain":
            return seconds / n * 1000
        if workload in ("fanout",):
            return n / seconds
        if workload == "throughput":
            return n / seconds  # n: steps completed
        if workload in ("retry", "import"):
            return seconds * 1000
        return seconds


METRICS = {
    "chain": Metric("ms/step", False, 0.2),
    "fanout": Metric("steps/s", True, 5000),
    "sleep-chain": Metric("s", False, 0.5),
    "retry": Metric("ms", False, None),
    "wide-graph": Metric("s", False, 1.0),
    "import": Metric("ms", False, 150),
    "throughput": Metric("steps/s", True, 3000),
    "cli": Metric("s", False, 0.3),
}


def median_range(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def better_by(metric: Metric, legato: float, peer: float) -> float:
    """How many times better legato is (> 1: legato is better)."""
    return legato / peer if metric.higher_is_better else peer / legato


def summarize(workload: str, runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """``runs``: per contender, its repetitions in order. Ratios pair repetition i of
    legato with repetition i of the peer, then take the median of those ratios."""
    metric = METRICS[workload]
    legato_runs = runs.get("legato", [])
    table: dict[str, Any] = {}
    for name, reps in runs.items():
        ok = [r for r in reps if r.get("metric") is not None]
        row: dict[str, Any] = {
            "n": sorted({r["n"] for r in reps if r.get("n")}),
            "metric": median_range([r["metric"] for r in ok]),
            "in_process_s": median_range([r["seconds"] for r in ok if r.get("seconds")]),
            "wall_s": median_range([r["wall_s"] for r in reps if r.get("wall_s")]),
            "peak_rss_mib": median_range([r["peak_rss_mib"] for r in reps
                                          if r.get("peak_rss_mib")]),
            "verified": f"{sum(1 for r in reps if r.get('verified'))}/{len(reps)}"
            if any("n" in r for r in reps) else DASH,
            "lower_bound": any(r.get("lower_bound") for r in reps),
            "notes": sorted({r["note"] for r in reps if r.get("note")}),
        }
        if name != "legato" and legato_runs:
            pairs = [(a, b) for a, b in zip(legato_runs, reps, strict=False)
                     if a.get("metric") and b.get("metric")]
            ratios = [better_by(metric, a["metric"], b["metric"]) for a, b in pairs]
            same_n = all(a.get("n") == b.get("n") for a, b in pairs)
            wall = [b["wall_s"] / a["wall_s"] for a, b in pairs
                    if a.get("wall_s") and b.get("wall_s")]
            row["ratio"] = median_range(ratios)
            row["wall_ratio"] = median_range(wall) if same_n else None
        table[name] = row
    return {"unit": metric.unit, "higher_is_better": metric.higher_is_better,
            "target": metric.target, "contenders": table}


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return DASH
    if unit == "steps/s" or abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    elif abs(value) >= 1:
        text = f"{value:.2f}"
    else:
        text = f"{value:.3f}"
    return text


def fmt_range(stat: dict[str, float] | None, unit: str = "") -> str:
    if not stat:
        return DASH
    return f"{fmt(stat['median'], unit)} ({fmt(stat['min'], unit)}{DASH}{fmt(stat['max'], unit)})"


def fmt_ratio(stat: dict[str, float] | None, lower_bound: bool = False) -> str:
    if not stat:
        return DASH
    sign = "≥ " if lower_bound else ""
    return f"{sign}{stat['median']:,.1f}{TIMES}"


def target_met(summary: dict[str, Any]) -> bool | None:
    target, stat = summary["target"], summary["contenders"].get("legato", {}).get("metric")
    if target is None or not stat:
        return None
    return stat["median"] >= target if summary["higher_is_better"] else stat["median"] <= target


def markdown(result: dict[str, Any]) -> str:
    """The report: summary of ratios, then one table per workload, then the setup."""
    peers = result["peers"]
    labels = {p["name"]: p["label"] for p in peers}
    peer_names = [p["name"] for p in peers if not p["name"].startswith("legato")]
    lines = [
        "# legato benchmarks: latest run",
        "",
        f"{result['started']} · {result['repeat']} repetition(s), interleaved · "
        f"commit {result['commit']} · {result['duration_s'] / 60:.0f} min",
        "",
        f"Machine: {result['machine']['cpu']}, {result['machine']['cores']} cores, "
        f"{result['machine']['memory_gib']} GiB, {result['machine']['os']}, Python "
        f"{result['machine']['python']}. Load average (1, 5, 15 min) before "
        f"{result['load_before']}, after {result['load_after']}. fsync of a 4 KiB write "
        f"where the stores live: median {result['fsync']['median_ms']} ms, p90 "
        f"{result['fsync']['p90_ms']} ms, max {result['fsync']['max_ms']} ms "
        f"({result['fsync']['samples']} samples).",
        *[f"\nRe-run {r['started']} (commit {r['commit']}, load before {r['load_before']}, "
          f"after {r.get('load_after')}, fsync median {r['fsync']['median_ms']} ms): "
          f"{', '.join(r['workloads'])}." for r in result.get("reruns", [])],
        "",
        "## How many times better legato is",
        "",
        "Median over repetitions of (peer / legato) for times, (legato / peer) for rates, "
        "each repetition of legato paired with the same repetition of the peer. "
        "≥ marks a peer stopped at its time limit (its figure is a bound).",
        "",
        "| " + " | ".join(["workload", "legato", *(labels[n] for n in peer_names)]) + " |",
        "|---|---|" + "---|" * len(peer_names),
    ]
    for workload, summary in result["workloads"].items():
        rows = summary["contenders"]
        legato = rows.get("legato", {})
        cells = [f"{fmt(legato['metric']['median'], summary['unit'])} {summary['unit']}"
                 if legato.get("metric") else DASH]
        for name in peer_names:
            row = rows.get(name)
            if row is None:
                cells.append(DASH)
            elif row.get("ratio"):
                cells.append(fmt_ratio(row["ratio"], row["lower_bound"]))
            else:
                cells.append(row["notes"][0].split(":")[0] if row["notes"] else "failed")
        lines.append(f"| {workload} | " + " | ".join(cells) + " |")
    lines += ["", "## legato's targets (SQLite default, this machine)", "",
              "| workload | target | legato (median) | met |", "|---|---|---|---|"]
    for workload, summary in result["workloads"].items():
        met = target_met(summary)
        if met is None or result["quick"]:  # quick sizes are not the targets' sizes
            continue
        op = "≥" if summary["higher_is_better"] else "≤"
        median = summary["contenders"]["legato"]["metric"]["median"]
        lines.append(f"| {workload} | {op} {fmt(summary['target'], summary['unit'])} "
                     f"{summary['unit']} | {fmt(median, summary['unit'])} {summary['unit']} "
                     f"| {'yes' if met else '**no**'} |")
    lines += ["", "## Each workload", ""]
    for workload, summary in result["workloads"].items():
        lines += [f"### {workload}", "", result["descriptions"][workload], "",
                  f"| contender | N | {summary['unit']} median (min{DASH}max) | in-process s | "
                  "whole process s | peak RSS MiB | verified | legato better by | "
                  "wall ratio |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for name, row in summary["contenders"].items():
            n = ", ".join(str(x) for x in row["n"]) or DASH
            lines.append(
                f"| {labels.get(name, name)} | {n} | "
                f"{'≥ ' if row['lower_bound'] else ''}{fmt_range(row['metric'], summary['unit'])}"
                f" | {fmt_range(row['in_process_s'])} | {fmt_range(row['wall_s'])} | "
                f"{fmt_range(row['peak_rss_mib'])} | {row['verified']} | "
                f"{fmt_ratio(row.get('ratio'), row['lower_bound'])} | "
                f"{fmt_ratio(row.get('wall_ratio'))} |")
        notes = [f"{labels.get(name, name)}: {note}"
                 for name, row in summary["contenders"].items() for note in row["notes"]]
        lines += [""] + [f"- {note}" for note in notes] + ([""] if notes else [])
    lines += ["## Contenders and settings", "", "| contender | version | settings |",
              "|---|---|---|"]
    for peer in peers:
        lines.append(f"| {peer['label']} | {peer['version']} | {peer['settings']} |")
    lines += ["", "Reproduce: `make bench-setup && make bench` (about "
              f"{result['duration_s'] / 60:.0f} minutes here). Logs of every process are "
              "in `.bench/logs/`.", ""]
    return "\n".join(lines)
