"""The workloads written for DBOS Transact 3.4, as its docs show: ``@DBOS.step()`` functions
called from a ``@DBOS.workflow()``, a registered queue to fan out (its queue tutorial's pattern:
enqueue each task, then wait for every handle), ``retries_allowed`` on the step. The
system database is SQLite (DBOS's default when no URL is given), in the state folder.
Runs in .bench/dbos's interpreter.
"""

import time
from pathlib import Path

from common import (
    RETRY_FAILURES,
    SLEEP_SECONDS,
    Args,
    Outcome,
    main,
    throughput_loop,
    timed,
)
from dbos import DBOS, DBOSConfig

QUEUE = "fanout"


@DBOS.step()
def add_one(previous: int) -> int:
    return previous + 1


@DBOS.workflow()
def chain(n: int) -> int:
    value = 0
    for _ in range(n):
        value = add_one(value)
    return value


@DBOS.step()
def source(n: int) -> list[int]:
    return list(range(n))


@DBOS.step()
def double(x: int) -> int:
    return 2 * x


@DBOS.step()
def total(values: list[int]) -> int:
    return sum(values)


@DBOS.workflow()
def fanout(n: int) -> int:
    handles = [DBOS.enqueue_workflow(QUEUE, double, x) for x in source(n)]
    return total([handle.get_result() for handle in handles])


@DBOS.step()
def nap(previous: int) -> int:
    time.sleep(SLEEP_SECONDS)
    return previous + 1


@DBOS.workflow()
def sleep_chain(n: int) -> int:
    value = 0
    for _ in range(n):
        value = nap(value)
    return value


@DBOS.step(retries_allowed=True, max_attempts=RETRY_FAILURES + 1, interval_seconds=0)
def flaky(failures: int) -> int:
    attempt = (DBOS.step_status.current_attempt or 0) + 1
    if attempt <= failures:
        raise RuntimeError(f"attempt {attempt} fails on purpose")
    return attempt


@DBOS.workflow()
def retrying(failures: int) -> int:
    return flaky(failures)


def launch(args: Args) -> None:
    database = Path(args.state) / "dbos.sqlite"
    config: DBOSConfig = {"name": "legato-bench",
                          "system_database_url": args.database_url or f"sqlite:///{database}"}
    DBOS(config=config)
    DBOS.launch()
    DBOS.register_queue(QUEUE)  # default polling interval and concurrency


def run_chain(args: Args) -> Outcome:
    launch(args)
    chain(1)
    seconds, output = timed(lambda: chain(args.n))
    return Outcome(seconds, output == args.n, args.n, f"output {output}")


def run_fanout(args: Args) -> Outcome:
    launch(args)
    fanout(1)
    seconds, output = timed(lambda: fanout(args.n))
    expected = args.n * (args.n - 1)
    return Outcome(seconds, output == expected, args.n, f"sum {output} (expected {expected})")


def run_sleep_chain(args: Args) -> Outcome:
    launch(args)
    sleep_chain(1)
    seconds, output = timed(lambda: sleep_chain(args.n))
    return Outcome(seconds, output == args.n, args.n, f"output {output}")


def run_retry(args: Args) -> Outcome:
    launch(args)
    retrying(0)
    seconds, output = timed(lambda: retrying(RETRY_FAILURES))
    return Outcome(seconds, output == RETRY_FAILURES + 1, 1, f"succeeded on attempt {output}")


def run_throughput(args: Args) -> Outcome:
    launch(args)
    fanout(1)
    return throughput_loop(args.seconds, lambda n: fanout(n) == n * (n - 1))


if __name__ == "__main__":
    try:
        raise SystemExit(main({
            "chain": run_chain,
            "fanout": run_fanout,
            "sleep-chain": run_sleep_chain,
            "retry": run_retry,
            "throughput": run_throughput,
        }))
    finally:
        DBOS.destroy()
