"""The workloads written for legato, as its tutorial shows: ``@lg.task`` steps called from
an ``@lg.flow`` (``.map`` to fan out), ``@lg.asset`` for the graph, ``lg.run`` with the
default settings (threads executor, SQLite store in ``home``, ``durability=normal``).

    python benchmarks/workloads/legato_workloads.py chain --state /tmp/s --out /tmp/r.json
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from common import (
    RETRY_FAILURES,
    SLEEP_SECONDS,
    Args,
    Outcome,
    command_times,
    main,
    throughput_loop,
    timed,
    topologically_sorted,
    wide_graph,
)

import legato as lg


@lg.task
def add_one(previous: int) -> int:
    return previous + 1


@lg.flow
def chain(n: int) -> int:
    value = 0
    for _ in range(n):
        value = add_one(value)
    return value


@lg.task
def source(n: int) -> list[int]:
    return list(range(n))


@lg.task
def double(x: int) -> int:
    return 2 * x


@lg.task
def total(values: list[int]) -> int:
    return sum(values)


@lg.flow
def fanout(n: int) -> int:
    items = source(n)
    doubled = double.map(items)
    return total([future.result() for future in doubled])


@lg.task
def nap(i: int) -> int:
    time.sleep(SLEEP_SECONDS)
    return i + 1


@lg.flow
def sleep_chain(n: int) -> int:
    value = 0
    for _ in range(n):
        value = nap(value)
    return value


@lg.task(retries=lg.Retry(RETRY_FAILURES, base=0, jitter=False))
def flaky(ctx: lg.StepContext, failures: int) -> int:
    if ctx.attempt <= failures:
        raise RuntimeError(f"attempt {ctx.attempt} fails on purpose")
    return ctx.attempt


@lg.flow
def retrying(failures: int) -> int:
    return flaky(failures)


def settings_of(args: Args) -> lg.Settings:
    return lg.Settings(home=args.state, database_url=args.database_url)


def run_chain(args: Args) -> Outcome:
    settings = settings_of(args)
    lg.run(chain, n=1, settings=settings)
    seconds, result = timed(lambda: lg.run(chain, n=args.n, settings=settings))
    return Outcome(seconds, result.ok and result.output == args.n, args.n,
                   f"output {result.output}, {len(result.steps)} steps recorded")


def run_fanout(args: Args) -> Outcome:
    settings = settings_of(args)
    lg.run(fanout, n=1, settings=settings)
    seconds, result = timed(lambda: lg.run(fanout, n=args.n, settings=settings))
    expected = args.n * (args.n - 1)
    return Outcome(seconds, result.ok and result.output == expected, args.n,
                   f"sum {result.output} (expected {expected})")


def run_sleep_chain(args: Args) -> Outcome:
    settings = settings_of(args)
    lg.run(sleep_chain, n=1, settings=settings)
    seconds, result = timed(lambda: lg.run(sleep_chain, n=args.n, settings=settings))
    return Outcome(seconds, result.ok and result.output == args.n, args.n,
                   f"output {result.output}")


def run_retry(args: Args) -> Outcome:
    settings = settings_of(args)
    lg.run(retrying, failures=0, settings=settings)
    seconds, result = timed(lambda: lg.run(retrying, failures=RETRY_FAILURES,
                                           settings=settings))
    attempts = [step.attempts for step in result.steps.values()]
    ok = result.ok and result.output == RETRY_FAILURES + 1 and attempts == [RETRY_FAILURES + 1]
    return Outcome(seconds, ok, 1, f"output {result.output}, attempts {attempts}")


def run_wide_graph(args: Args) -> Outcome:
    from legato.graph.selection import resolve_selection  # what lg.materialize plans with

    shape = wide_graph(args.n)

    def noop() -> None:
        return None

    def load_and_plan() -> list[str]:
        assets = [lg.asset(key=name, deps=upstream)(noop) for name, upstream in shape]
        definitions = lg.Definitions(assets=assets)
        return resolve_selection(definitions.graph, "*")

    seconds, plan = timed(load_and_plan)
    return Outcome(seconds, topologically_sorted(plan, shape), len(plan),
                   f"{len(plan)} assets planned")


def run_throughput(args: Args) -> Outcome:
    settings = settings_of(args)
    lg.run(fanout, n=1, settings=settings)

    def batch(n: int) -> bool:
        result = lg.run(fanout, n=n, settings=settings)
        return result.ok and result.output == n * (n - 1)

    return throughput_loop(args.seconds, batch)


CLI_FLOW = """\
import legato as lg


@lg.task
def hello() -> str:
    return "hello"


@lg.flow
def greet() -> str:
    return hello()
"""


def run_cli(args: Args) -> Outcome:
    """`legato` as a user types it, with LEGATO_HOME in the state folder: a one-step flow
    run once first (creating the store), then the commands, timed."""
    legato = str(Path(sys.executable).with_name("legato"))
    args.state.mkdir(parents=True, exist_ok=True)
    (args.state / "cli_flow.py").write_text(CLI_FLOW)
    env = {"LEGATO_HOME": str(args.state / "home")}
    first = command_times({"run": [legato, "run", "cli_flow.py", "greet"]}, 1, "run",
                          cwd=args.state, env=env)
    if not first.verified:
        return first
    return command_times({
        "--help": [legato, "--help"],
        "runs": [legato, "runs"],
        "show last": [legato, "show", "last"],
        "assets": [legato, "assets"],
        "run (one step)": [legato, "run", "cli_flow.py", "greet"],
    }, args.n, "runs", cwd=args.state, env=env)


if __name__ == "__main__":
    raise SystemExit(main({
        "chain": run_chain,
        "fanout": run_fanout,
        "sleep-chain": run_sleep_chain,
        "retry": run_retry,
        "wide-graph": run_wide_graph,
        "throughput": run_throughput,
        "cli": run_cli,
    }))
