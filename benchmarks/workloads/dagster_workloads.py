"""The workloads written for Dagster 1.13, as its docs show: ``@dg.op`` steps composed in a
``@dg.job`` (``DynamicOut``/``.map``/``.collect`` to fan out, ``RetryPolicy`` for retries),
``@dg.asset`` with ``deps`` and ``dg.Definitions`` for the graph. Jobs run with
``execute_in_process`` on the persistent instance of ``DAGSTER_HOME`` (set by the harness
to the state folder, with a ``dagster.yaml`` turning telemetry off), so that runs and
events are stored in its SQLite databases as a local ``dagster dev`` user's are.
Runs in .bench/dagster's interpreter.
"""


import sys
import time
from pathlib import Path

import dagster as dg
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


@dg.op
def zero() -> int:
    return 0


@dg.op
def add_one(previous: int) -> int:
    return previous + 1


@dg.op
def nap(previous: int) -> int:
    time.sleep(SLEEP_SECONDS)
    return previous + 1


def chain_job(name: str, step: dg.OpDefinition, n: int) -> dg.JobDefinition:
    """A job of ``n`` invocations of ``step`` in sequence (Dagster names them step,
    step_2, ...): a job's shape is fixed when it is defined."""

    @dg.job(name=f"{name}_{n}")
    def chain() -> None:
        value = zero()
        for _ in range(n):
            value = step(value)

    return chain


class SourceConfig(dg.Config):
    n: int


@dg.op(out=dg.DynamicOut(int))
def source(config: SourceConfig):
    for i in range(config.n):
        yield dg.DynamicOutput(i, mapping_key=str(i))


@dg.op
def double(x: int) -> int:
    return 2 * x


@dg.op
def total(values: list[int]) -> int:
    return sum(values)


@dg.job
def fanout() -> None:
    total(source().map(double).collect())


class FlakyConfig(dg.Config):
    failures: int


@dg.op(retry_policy=dg.RetryPolicy(max_retries=RETRY_FAILURES, delay=0))
def flaky(context: dg.OpExecutionContext, config: FlakyConfig) -> int:
    attempt = context.retry_number + 1
    if attempt <= config.failures:
        raise RuntimeError(f"attempt {attempt} fails on purpose")
    return attempt


@dg.job
def retrying() -> None:
    flaky()


def instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.get()  # the persistent instance of DAGSTER_HOME


def run_chain_of(step: dg.OpDefinition, name: str, args: Args) -> Outcome:
    with instance() as store:
        chain_job(name, step, 1).execute_in_process(instance=store)
        job = chain_job(name, step, args.n)
        seconds, result = timed(lambda: job.execute_in_process(instance=store))
        last = step.name if args.n == 1 else f"{step.name}_{args.n}"
        output = result.output_for_node(last)
    return Outcome(seconds, result.success and output == args.n, args.n, f"output {output}")


def run_chain(args: Args) -> Outcome:
    return run_chain_of(add_one, "chain", args)


def run_sleep_chain(args: Args) -> Outcome:
    return run_chain_of(nap, "sleep_chain", args)


def fanout_config(n: int) -> dict[str, object]:
    return {"ops": {"source": {"config": {"n": n}}}}


def run_fanout(args: Args) -> Outcome:
    with instance() as store:
        fanout.execute_in_process(run_config=fanout_config(1), instance=store)
        seconds, result = timed(lambda: fanout.execute_in_process(
            run_config=fanout_config(args.n), instance=store))
        output = result.output_for_node("total")
    expected = args.n * (args.n - 1)
    return Outcome(seconds, result.success and output == expected, args.n,
                   f"sum {output} (expected {expected})")


def run_retry(args: Args) -> Outcome:
    def config(failures: int) -> dict[str, object]:
        return {"ops": {"flaky": {"config": {"failures": failures}}}}

    with instance() as store:
        retrying.execute_in_process(run_config=config(0), instance=store)
        seconds, result = timed(lambda: retrying.execute_in_process(
            run_config=config(RETRY_FAILURES), instance=store))
        output = result.output_for_node("flaky")
    return Outcome(seconds, result.success and output == RETRY_FAILURES + 1, 1,
                   f"succeeded on attempt {output}")


def run_wide_graph(args: Args) -> Outcome:
    # How the webserver and `dagster job execute` plan a run (not a public API).
    from dagster._core.execution.api import create_execution_plan

    shape = wide_graph(args.n)

    def make(name: str, upstream: list[str]) -> dg.AssetsDefinition:
        @dg.asset(name=name, deps=upstream)
        def _asset() -> None:
            return None

        return _asset

    def load_and_plan() -> list[str]:
        defs = dg.Definitions(assets=[make(name, upstream) for name, upstream in shape])
        dg.Definitions.validate_loadable(defs)
        job = defs.resolve_implicit_global_asset_job_def()
        plan = create_execution_plan(job)
        return [step.key for step in plan.get_steps_to_execute_in_topo_order()]

    seconds, plan = timed(load_and_plan)
    return Outcome(seconds, topologically_sorted(plan, shape), len(plan),
                   f"{len(plan)} steps planned")


def run_throughput(args: Args) -> Outcome:
    with instance() as store:
        fanout.execute_in_process(run_config=fanout_config(1), instance=store)

        def batch(n: int) -> bool:
            result = fanout.execute_in_process(run_config=fanout_config(n), instance=store)
            return result.success and result.output_for_node("total") == n * (n - 1)

        return throughput_loop(args.seconds, batch)


def run_cli(args: Args) -> Outcome:
    """`dagster` as a local user types it, on DAGSTER_HOME's instance, after one run."""
    with instance() as store:
        retrying.execute_in_process(
            run_config={"ops": {"flaky": {"config": {"failures": 0}}}}, instance=store)
    dagster = str(Path(sys.executable).with_name("dagster"))
    return command_times({"--help": [dagster, "--help"],
                          "run list": [dagster, "run", "list"]},
                         args.n, "run list", cwd=args.state)


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
