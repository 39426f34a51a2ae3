"""The workloads written for Prefect 3, as its docs show: ``@task`` steps called from a
``@flow``, ``.map`` to fan out, ``retries``/``retry_delay_seconds`` on the task. Defaults
for a local user: no server configured, so Prefect starts its ephemeral local server on a
SQLite database in ``PREFECT_HOME`` (set by the harness to the state folder).
Runs in .bench/prefect's interpreter.
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
)
from prefect import flow, task
from prefect.runtime import task_run


@task
def add_one(previous: int) -> int:
    return previous + 1


@flow
def chain(n: int) -> int:
    value = 0
    for _ in range(n):
        value = add_one(value)
    return value


@task
def source(n: int) -> list[int]:
    return list(range(n))


@task
def double(x: int) -> int:
    return 2 * x


@task
def total(values: list[int]) -> int:
    return sum(values)


@flow
def fanout(n: int) -> int:
    items = source(n)
    doubled = double.map(items)
    return total(doubled)  # Prefect waits for the futures and passes their results


@task
def nap(i: int) -> int:
    time.sleep(SLEEP_SECONDS)
    return i + 1


@flow
def sleep_chain(n: int) -> int:
    value = 0
    for _ in range(n):
        value = nap(value)
    return value


@task(retries=RETRY_FAILURES, retry_delay_seconds=0)
def flaky(failures: int) -> int:
    attempt = task_run.run_count
    if attempt <= failures:
        raise RuntimeError(f"attempt {attempt} fails on purpose")
    return attempt


@flow
def retrying(failures: int) -> int:
    return flaky(failures)


def run_chain(args: Args) -> Outcome:
    chain(1)  # starts the ephemeral server
    seconds, output = timed(lambda: chain(args.n))
    return Outcome(seconds, output == args.n, args.n, f"output {output}")


def run_fanout(args: Args) -> Outcome:
    fanout(1)
    seconds, output = timed(lambda: fanout(args.n))
    expected = args.n * (args.n - 1)
    return Outcome(seconds, output == expected, args.n, f"sum {output} (expected {expected})")


def run_sleep_chain(args: Args) -> Outcome:
    sleep_chain(1)
    seconds, output = timed(lambda: sleep_chain(args.n))
    return Outcome(seconds, output == args.n, args.n, f"output {output}")


def run_retry(args: Args) -> Outcome:
    retrying(0)
    seconds, output = timed(lambda: retrying(RETRY_FAILURES))
    return Outcome(seconds, output == RETRY_FAILURES + 1, 1,
                   f"succeeded on attempt {output}")


def run_throughput(args: Args) -> Outcome:
    fanout(1)
    return throughput_loop(args.seconds, lambda n: fanout(n) == n * (n - 1))


def run_cli(args: Args) -> Outcome:
    """`prefect` as a local user types it (no server configured: each command starts the
    ephemeral server on PREFECT_HOME's SQLite database), after one flow run."""
    retrying(0)
    prefect = str(Path(sys.executable).with_name("prefect"))
    return command_times({"--help": [prefect, "--help"],
                          "flow-run ls": [prefect, "flow-run", "ls"]},
                         args.n, "flow-run ls", cwd=args.state)


if __name__ == "__main__":
    raise SystemExit(main({
        "chain": run_chain,
        "fanout": run_fanout,
        "sleep-chain": run_sleep_chain,
        "retry": run_retry,
        "throughput": run_throughput,
        "cli": run_cli,
    }))
