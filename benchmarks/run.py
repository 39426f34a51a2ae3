"""Run the benchmarks: every workload for legato and each peer, interleaved, each in a
fresh process of its own venv; write benchmarks/results/latest.md and latest.json.

    python benchmarks/run.py                      # `make bench`: everything, 3 repetitions
    python benchmarks/run.py --quick              # `make bench-quick`: legato only, small N
    python benchmarks/run.py --peers legato,dbos --workloads chain,retry --repeat 1

Peers come from `make bench-setup` (.bench/<peer>/); one that is missing or fails is
recorded as such and the run carries on. See the README's Benchmarks section.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import fsync_latency_ms, load_average, machine, run_process
from peers import BENCH_DIR, LEGATO, LEGATO_PG, PEERS, POSTGRES_URL, ROOT, Peer
from report import METRICS, markdown, summarize
from workloads.common import (
    CHAIN_STEPS,
    CLI_TIMINGS,
    FANOUT_STEPS,
    SLEEP_STEPS,
    THROUGHPUT_SECONDS,
    WIDE_ASSETS,
    WORKLOADS,
)

FULL_N = {"chain": CHAIN_STEPS, "fanout": FANOUT_STEPS, "sleep-chain": SLEEP_STEPS,
          "wide-graph": WIDE_ASSETS, "cli": CLI_TIMINGS}
QUICK_N = {"chain": 100, "fanout": 100, "sleep-chain": 10, "wide-graph": 1000, "cli": 1}
QUICK_SECONDS = 1.0
TIME_LIMIT_S = {"chain": 600, "fanout": 600, "sleep-chain": 300, "retry": 300,
                "wide-graph": 600, "import": 120, "cli": 900}
POSTGRES_WORKLOADS = {"chain", "fanout", "throughput"}
ALL = [LEGATO, LEGATO_PG, *PEERS]

IMPORT_PROGRAM = """\
import json, sys, time
start = time.perf_counter()
{statement}
seconds = time.perf_counter() - start
open(sys.argv[1], "w").write(json.dumps({{"seconds": seconds, "verified": True, "steps": 0,
                                        "detail": {statement!r}}}))
"""


def postgres_schema() -> tuple[str | None, str | None, str]:
    """A fresh schema for legato on PostgreSQL: (url, schema, why not)."""
    try:
        import sqlalchemy
    except ImportError:
        return None, None, "sqlalchemy missing in .venv"
    schema = f"legato_bench_{secrets.token_hex(4)}"
    try:
        engine = sqlalchemy.create_engine(POSTGRES_URL)
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text(f"CREATE SCHEMA {schema}"))
        engine.dispose()
    except Exception as error:
        return None, None, f"no PostgreSQL at {POSTGRES_URL}: {type(error).__name__}"
    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}", schema, ""


def drop_schema(schema: str) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.sizes = QUICK_N if args.quick else FULL_N
        # State and outputs of this invocation only: two runs at once never share a store.
        self.work = BENCH_DIR / f"work-{os.getpid()}"
        self.logs = BENCH_DIR / "logs" / ("quick" if args.quick else time.strftime("%Y%m%d-%H%M%S"))
        self.postgres_url: str | None = None
        self.unavailable: dict[str, str] = {}

    def state(self, peer: Peer) -> Path:
        return self.work / "state" / peer.name

    def n_for(self, peer: Peer, workload: str) -> int:
        n = self.sizes.get(workload, 1)
        return min(n, peer.caps.get(workload, n))

    def measure(self, peer: Peer, workload: str, rep: int) -> dict[str, Any]:
        record: dict[str, Any] = {"contender": peer.name, "workload": workload, "rep": rep}
        if peer.name in self.unavailable:
            record["note"] = f"not available: {self.unavailable[peer.name]}"
            return record
        if workload in peer.not_applicable:
            record["note"] = f"not applicable: {peer.not_applicable[workload]}"
            return record
        n = self.n_for(peer, workload)
        if n < self.sizes.get(workload, n):
            record["note"] = peer.cap_reason
        out = self.work / "out" / f"{peer.name}-{workload}-{rep}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        started = out.with_suffix(".started")
        out.unlink(missing_ok=True)
        started.unlink(missing_ok=True)
        seconds = self.args.seconds
        if workload == "import":
            command = [str(peer.python), "-c",
                       IMPORT_PROGRAM.format(statement=peer.import_statement), str(out)]
        else:
            command = [str(peer.python), str(peer.script), workload, "--n", str(n),
                       "--seconds", str(seconds), "--state", str(self.state(peer)),
                       "--out", str(out)]
            if peer.uses_postgres:
                command += ["--database-url", str(self.postgres_url)]
        limit = TIME_LIMIT_S.get(workload, seconds + 300)
        run = run_process(command, env=peer.environment(self.state(peer)), cwd=ROOT,
                          log=self.logs / f"{peer.name}-{workload}-{rep}.log", timeout_s=limit)
        record.update(n=n, wall_s=run.wall_s, peak_rss_mib=run.peak_rss_mib,
                      returncode=run.returncode)
        if run.timed_out:
            record.update(verified=False, lower_bound=True,
                          note=f"stopped at its {limit:.0f} s time limit")
            if started.exists():  # the measured part ran at least this long
                record["seconds"] = time.time() - float(started.read_text())
                record["metric"] = METRICS[workload].of(workload, record["seconds"], n)
            return record
        try:
            outcome = json.loads(out.read_text())
        except (OSError, ValueError):
            record.update(verified=False, note=f"crashed (exit {run.returncode}), see "
                          f"{(self.logs / f'{peer.name}-{workload}-{rep}.log').relative_to(ROOT)}")
            return record
        record.update(seconds=outcome["seconds"], verified=outcome["verified"],
                      detail=outcome["detail"])
        if workload == "throughput":
            record["n"] = outcome["steps"]
        if outcome["verified"]:
            record["metric"] = METRICS[workload].of(workload, outcome["seconds"], record["n"])
        else:
            record["note"] = f"did not verify: {outcome['detail']}"
        return record

    def contenders(self) -> list[Peer]:
        if self.args.peers:
            wanted = set(self.args.peers.split(","))
            return [p for p in ALL if p.name in wanted or "all" in wanted]
        return [LEGATO] if self.args.quick else ALL

    def prepare(self, contenders: list[Peer]) -> None:
        for peer in contenders:
            reason = peer.unavailable()
            if peer.uses_postgres and reason is None:
                self.postgres_url, self.schema, reason = postgres_schema()
                reason = reason or None
            if reason is None:
                try:
                    peer.prepare(self.state(peer))
                except (OSError, subprocess.SubprocessError) as error:
                    reason = f"set-up failed: {error}"
            if reason is None and not self.args.quick:
                # One untimed run creates and migrates its database, as a first use would.
                warm = self.measure(peer, "retry", -1)
                if not warm.get("verified"):
                    reason = f"its first run failed: {warm.get('note', '')}"
            if reason:
                self.unavailable[peer.name] = reason
                print(f"bench: {peer.label} not available: {reason}", flush=True)

    def run(self) -> int:
        contenders = self.contenders()
        workloads = self.args.workloads.split(",") if self.args.workloads else list(WORKLOADS)
        if self.args.render:  # only write latest.md again from latest.json
            self.write(json.loads((Path(self.args.out) / "latest.json").read_text()))
            return 0
        begin = time.time()
        conditions = {
            "started": time.strftime("%Y-%m-%d %H:%M %Z"), "repeat": self.args.repeat,
            "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                     capture_output=True, text=True, check=False).stdout.strip(),
            "load_before": load_average(), "fsync": fsync_latency_ms(self.work),
        }
        result: dict[str, Any] = {
            **conditions, "machine": machine(), "quick": self.args.quick,
            "sizes": self.sizes, "throughput_seconds": self.args.seconds,
            "descriptions": {w: WORKLOADS[w] for w in WORKLOADS}, "workloads": {}, "runs": [],
            "reruns": [],
        }
        if self.args.update:  # run these workloads again, keep the others' figures
            result = json.loads((Path(self.args.out) / "latest.json").read_text())
            result["descriptions"] = {w: WORKLOADS[w] for w in WORKLOADS}  # new workloads too
            result["runs"] = [r for r in result["runs"] if r["workload"] not in workloads]
            result.setdefault("reruns", []).append({**conditions, "workloads": workloads})
        self.prepare(contenders)
        fresh = {p.name: {"name": p.name, "label": p.label, "settings": p.settings,
                          "version": "not available" if p.name in self.unavailable
                          else p.version()} for p in contenders}
        earlier = [p for p in result.get("peers", []) if p["name"] not in fresh]
        result["peers"] = sorted([*earlier, *fresh.values()],
                                 key=lambda p: [c.name for c in ALL].index(p["name"]))
        failures = 0
        try:
            for workload in workloads:
                runs: dict[str, list[dict[str, Any]]] = {}
                for rep in range(self.args.repeat):
                    order = contenders if rep % 2 == 0 else contenders[::-1]
                    for peer in order:
                        if peer.uses_postgres and workload not in POSTGRES_WORKLOADS:
                            continue
                        record = self.measure(peer, workload, rep)
                        runs.setdefault(peer.name, []).append(record)
                        result["runs"].append(record)
                        self.progress(record)
                        if peer.name == "legato" and record.get("metric") is None:
                            failures += 1
                for records in runs.values():
                    records.sort(key=lambda r: r["rep"])
                result["workloads"][workload] = summarize(workload, runs)
                result["load_after"] = load_average()
                if self.args.update:
                    result["reruns"][-1].update(load_after=result["load_after"],
                                                duration_s=time.time() - begin)
                else:
                    result["duration_s"] = time.time() - begin
                self.write(result)
        finally:
            if getattr(self, "schema", None):
                drop_schema(self.schema)
            shutil.rmtree(self.work, ignore_errors=True)
        return 1 if failures else 0

    def progress(self, record: dict[str, Any]) -> None:
        metric = record.get("metric")
        unit = METRICS[record["workload"]].unit
        figure = f"{metric:,.3f} {unit}" if metric is not None else record.get("note", "")
        wall = f", whole process {record['wall_s']:.2f} s" if record.get("wall_s") else ""
        rss = f", {record['peak_rss_mib']:.0f} MiB" if record.get("peak_rss_mib") else ""
        print(f"bench: {record['workload']:<11} {record['contender']:<9} "
              f"#{record['rep'] + 1} n={record.get('n', '-')}: {figure}{wall}{rss}", flush=True)

    def write(self, result: dict[str, Any]) -> None:
        folder = BENCH_DIR / "quick" if self.args.quick else Path(self.args.out)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "latest.json").write_text(json.dumps(result, indent=1, default=str) + "\n")
        (folder / "latest.md").write_text(markdown(result))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="legato only, small N, one repetition (the `make test` smoke run)")
    parser.add_argument("--peers", help="comma-separated: legato,legato-pg,prefect,dagster,"
                        "airflow,dbos or all (default: all; with --quick, legato)")
    parser.add_argument("--workloads", help="comma-separated (default: all): "
                        + ",".join(WORKLOADS))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=THROUGHPUT_SECONDS,
                        help="length of the throughput workload")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--render", action="store_true",
                        help="write latest.md again from latest.json, running nothing")
    parser.add_argument("--update", action="store_true",
                        help="run --workloads again and replace only their figures in "
                        "the existing latest.json (e.g. after a disturbed repetition)")
    args = parser.parse_args()
    if args.quick:
        args.repeat, args.seconds = 1, min(args.seconds, QUICK_SECONDS)
    return Bench(args).run()


if __name__ == "__main__":
    raise SystemExit(main())
