"""What every workload module shares: the workloads' shapes and the result protocol.

Each ``<peer>_workloads.py`` module runs in its peer's own virtual environment, as a
script: ``python benchmarks/workloads/<peer>_workloads.py WORKLOAD --n N --state DIR
--out FILE``. It defines the workloads in the peer's idiomatic style, runs one, checks
the result and writes one JSON object to ``--out``::

    {"seconds": 0.21, "verified": true, "steps": 1000, "detail": "..."}

``seconds`` is the in-process time of the measured part (see ``WORKLOADS``); the harness
adds the whole-process wall time and peak memory. This module imports nothing outside
the standard library, so that every peer's interpreter can load it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# The shapes, with the full sizes of `make bench`; `--quick` and per-peer caps shrink N.
CHAIN_STEPS = 1000
FANOUT_STEPS = 1000
SLEEP_STEPS = 40
SLEEP_SECONDS = 0.010
RETRY_FAILURES = 2  # the step fails twice, then succeeds on its third attempt
WIDE_ASSETS = 10_000
WIDE_LAYER = 100  # the wide graph: layers of 100 assets, each needing 2 of the layer above
THROUGHPUT_SECONDS = 30.0
THROUGHPUT_BATCH = 100  # throughput: runs of 100 fanned-out no-op steps, back to back
CLI_TIMINGS = 5  # cli: each command timed this many times as a whole process (median)

WORKLOADS = {
    "chain": "N no-op steps in sequence, step i returns the previous value + 1; "
    "measured: one run of the flow, after a warm-up run of one step",
    "fanout": "one source, N independent no-op steps, one sink summing them; "
    "measured: one run, after a warm-up run of one step",
    "sleep-chain": "40 sequential steps that each sleep 10 ms (ideal 0.40 s); "
    "measured: one run, after a warm-up run of one step",
    "retry": "one step failing twice then succeeding, no retry delay; "
    "measured: one run, after a warm-up run without failures",
    "wide-graph": "define 10,000 assets (100 layers of 100, each needing 2 of the layer "
    "above), validate them and plan a run of all of them, without executing",
    "import": "import the package as a user's pipeline file does",
    "throughput": "runs of 100 fanned-out no-op steps back to back for 30 s with durable "
    "state; measured: completed steps per second",
    "cli": "the command line as whole processes, on a local project holding a few runs "
    "(N: timings per command, interleaved); measured: the median of the run listing "
    "(legato runs, prefect flow-run ls, dagster run list, airflow dags list); the other "
    "commands' medians are in the detail",
}


@dataclass
class Outcome:
    seconds: float
    verified: bool
    steps: int = 0
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Args:
    workload: str
    n: int
    seconds: float
    state: Path
    database_url: str | None


Workload = Callable[[Args], Outcome]


_marker: dict[str, Path] = {}  # "started": the file noting when the measured part began


def mark_started() -> None:
    """Note when the measured part starts, next to ``--out``: if the harness has to stop
    the process at its time limit, it still knows how long the measured part ran."""
    if "started" in _marker:
        _marker["started"].write_text(repr(time.time()))


def wide_graph(n: int) -> list[tuple[str, list[str]]]:
    """(asset name, names of its upstream assets) for the wide graph, in definition order."""
    width = min(WIDE_LAYER, n)
    shape = []
    for i in range(n):
        layer, pos = divmod(i, width)
        upstream = [] if layer == 0 else sorted(
            {f"a{(layer - 1) * width + pos:05d}",
             f"a{(layer - 1) * width + (pos + 1) % width:05d}"})
        shape.append((f"a{i:05d}", upstream))
    return shape


def topologically_sorted(order: list[str], shape: list[tuple[str, list[str]]]) -> bool:
    """Does ``order`` hold every asset of ``shape`` once, each after its upstream assets?"""
    position = {name: i for i, name in enumerate(order)}
    if len(position) != len(shape) or len(order) != len(shape):
        return False
    return all(name in position and all(position[up] < position[name] for up in upstream)
               for name, upstream in shape)


def throughput_loop(seconds: float, run_batch: Callable[[int], bool]) -> Outcome:
    """Call ``run_batch(THROUGHPUT_BATCH)`` (True when its result verified) until
    ``seconds`` have passed; count the steps of completed, verified runs."""
    runs = failed = 0
    mark_started()
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        if run_batch(THROUGHPUT_BATCH):
            runs += 1
        else:
            failed += 1
    elapsed = time.perf_counter() - start
    steps = runs * THROUGHPUT_BATCH
    return Outcome(elapsed, failed == 0 and runs > 0, steps,
                   f"{runs} runs of {THROUGHPUT_BATCH} steps, {failed} failed; "
                   f"{steps / elapsed:.0f} steps/s", {"steps_per_s": steps / elapsed})


def command_times(commands: dict[str, list[str]], times: int, listing: str, *,
                  cwd: Path, env: dict[str, str] | None = None) -> Outcome:
    """Run each command ``times`` times, interleaved, as whole processes; the median wall
    time of each, the one of ``listing`` as the measured seconds. Any command that fails
    fails the workload."""
    walls: dict[str, list[float]] = {name: [] for name in commands}
    environment = {**os.environ, **(env or {})}
    mark_started()
    for _ in range(times):
        for name, argv in commands.items():
            start = time.perf_counter()
            done = subprocess.run(argv, cwd=cwd, env=environment, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True, timeout=600, check=False)
            walls[name].append(time.perf_counter() - start)
            if done.returncode != 0:
                said = " ".join(done.stderr.split())[-300:]
                return Outcome(0.0, False, detail=f"`{' '.join(argv)}` exited "
                               f"{done.returncode}: {said}")
    medians = {name: statistics.median(values) for name, values in walls.items()}
    detail = ", ".join(f"{name} {seconds:.3f} s" for name, seconds in medians.items())
    return Outcome(medians[listing], True, len(commands), f"medians of {times}: {detail}",
                   {"medians_s": medians})


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    mark_started()
    start = time.perf_counter()
    value = call()
    return time.perf_counter() - start, value


def main(workloads: dict[str, Workload]) -> int:
    parser = argparse.ArgumentParser(description="Run one benchmark workload.")
    parser.add_argument("workload", choices=sorted(workloads))
    parser.add_argument("--n", type=int, default=0, help="size; 0 for the workload's default")
    parser.add_argument("--seconds", type=float, default=THROUGHPUT_SECONDS)
    parser.add_argument("--state", type=Path, required=True, help="the peer's state folder")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--out", type=Path, required=True, help="where the JSON result goes")
    ns = parser.parse_args()
    _marker["started"] = ns.out.with_suffix(".started")
    defaults = {"chain": CHAIN_STEPS, "fanout": FANOUT_STEPS, "sleep-chain": SLEEP_STEPS,
                "wide-graph": WIDE_ASSETS}
    args = Args(ns.workload, ns.n or defaults.get(ns.workload, 1), ns.seconds, ns.state,
                ns.database_url)
    try:
        outcome = workloads[args.workload](args)
    except BaseException as error:  # recorded, not raised: the harness reports it
        traceback.print_exc()
        outcome = Outcome(0.0, False, detail=f"error: {type(error).__name__}: {error}"[:500])
    ns.out.write_text(json.dumps(asdict(outcome)))
    sys.stdout.flush()
    return 0 if outcome.verified else 1
