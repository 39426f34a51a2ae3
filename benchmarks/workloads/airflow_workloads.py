"""The workloads written for Apache Airflow 3.3, as its docs show: the TaskFlow API
(``@dag``/``@task`` from ``airflow.sdk``), ``.expand`` (dynamic task mapping) to fan out,
``retries``/``retry_delay`` on the task, and ``dag.test()`` to run a DAG in this process
against the metadata database. ``AIRFLOW_HOME`` is the state folder, whose SQLite metadata
database the harness created with ``airflow db migrate`` (examples not loaded); as
``dag.test()`` syncs the DAG from its file in the DAGs folder, the harness copies this
file there, and ``LEGATO_BENCH_AIRFLOW_DAGS`` tells that copy which DAGs to define.
Runs in .bench/airflow's interpreter.
"""

import os
import sys
import time
from datetime import timedelta
from pathlib import Path

from airflow.sdk import DAG, dag, get_current_context, task
from common import (
    RETRY_FAILURES,
    SLEEP_SECONDS,
    THROUGHPUT_BATCH,
    Args,
    Outcome,
    command_times,
    main,
    throughput_loop,
    timed,
    topologically_sorted,
    wide_graph,
)

DAGS_VARIABLE = "LEGATO_BENCH_AIRFLOW_DAGS"


@task
def zero() -> int:
    return 0


@task
def add_one(previous: int) -> int:
    return previous + 1


@task
def nap(previous: int) -> int:
    time.sleep(SLEEP_SECONDS)
    return previous + 1


def chain_dag(name: str, step, n: int) -> DAG:
    """A DAG of ``n`` calls of ``step`` in sequence: a DAG's shape is fixed when parsed."""

    @dag(dag_id=f"{name}_{n}", schedule=None, catchup=False)
    def chain() -> None:
        value = zero()
        for _ in range(n):
            value = step(value)

    return chain()


@task
def source(n: int) -> list[int]:
    return list(range(n))


@task
def double(x: int) -> int:
    return 2 * x


@task
def total(values) -> int:
    return sum(values)


def fanout_dag(n: int) -> DAG:
    @dag(dag_id=f"fanout_{n}", schedule=None, catchup=False)
    def fanout() -> None:
        total(double.expand(x=source(n)))

    return fanout()


@task(retries=RETRY_FAILURES, retry_delay=timedelta(0))
def flaky(failures: int) -> int:
    attempt = get_current_context()["ti"].try_number
    if attempt <= failures:
        raise RuntimeError(f"attempt {attempt} fails on purpose")
    return attempt


def retry_dag(failures: int) -> DAG:
    @dag(dag_id=f"retrying_{failures}", schedule=None, catchup=False)
    def retrying() -> None:
        flaky(failures)

    return retrying()


FACTORIES = {
    "chain": lambda n: chain_dag("chain", add_one, n),
    "sleep_chain": lambda n: chain_dag("sleep_chain", nap, n),
    "fanout": fanout_dag,
    "retrying": retry_dag,
}


def define_dags(spec: str) -> dict[str, DAG]:
    """The DAGs named by ``spec`` ("chain:1,chain:1000"), by dag_id."""
    dags = {}
    for item in filter(None, spec.split(",")):
        kind, n = item.split(":")
        built = FACTORIES[kind](int(n))
        dags[built.dag_id] = built
    return dags


def use_dags(*spec: str) -> list[DAG]:
    """Define these DAGs here, and tell the copy of this file in the DAGs folder (which
    ``dag.test()`` parses into the metadata database) to define the same."""
    os.environ[DAGS_VARIABLE] = ",".join(spec)
    return list(define_dags(os.environ[DAGS_VARIABLE]).values())


def output_of(run, task_id: str) -> object:
    """The return value (XCom) of ``task_id`` in ``run``."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.query(XComModel).filter_by(
            dag_id=run.dag_id, run_id=run.run_id, task_id=task_id, key="return_value",
        ).one_or_none()
        return None if row is None else XComModel.deserialize_value(row)


def succeeded(run) -> bool:
    return str(getattr(run.state, "value", run.state)) == "success"


def run_chain_of(step, name: str, args: Args) -> Outcome:
    warm_up, dag_ = use_dags(f"{name}:1", f"{name}:{args.n}")
    warm_up.test()
    seconds, run = timed(dag_.test)
    last = step.__name__ if args.n == 1 else f"{step.__name__}__{args.n - 1}"
    output = output_of(run, last)
    return Outcome(seconds, succeeded(run) and output == args.n, args.n, f"output {output}")


def run_chain(args: Args) -> Outcome:
    return run_chain_of(add_one, "chain", args)


def run_sleep_chain(args: Args) -> Outcome:
    return run_chain_of(nap, "sleep_chain", args)


def run_fanout(args: Args) -> Outcome:
    warm_up, dag_ = use_dags("fanout:1", f"fanout:{args.n}")
    warm_up.test()
    seconds, run = timed(dag_.test)
    output = output_of(run, "total")
    expected = args.n * (args.n - 1)
    return Outcome(seconds, succeeded(run) and output == expected, args.n,
                   f"sum {output} (expected {expected})")


def run_retry(args: Args) -> Outcome:
    warm_up, dag_ = use_dags("retrying:0", f"retrying:{RETRY_FAILURES}")
    warm_up.test()
    seconds, run = timed(dag_.test)
    output = output_of(run, "flaky")
    return Outcome(seconds, succeeded(run) and output == RETRY_FAILURES + 1, 1,
                   f"succeeded on attempt {output}")


def run_wide_graph(args: Args) -> Outcome:
    # What the DAG processor does with a parsed DAG file: validate and serialize it.
    from airflow.serialization.serialized_objects import DagSerialization

    shape = wide_graph(args.n)

    @task
    def noop() -> None:
        return None

    def load_and_plan() -> list[str]:
        with DAG(dag_id="wide_graph", schedule=None, catchup=False) as wide:
            tasks = {}
            for name, upstream in shape:
                tasks[name] = noop.override(task_id=name)()
                for up in upstream:
                    tasks[up] >> tasks[name]
        wide.validate()
        DagSerialization.to_dict(wide)
        return [t.task_id for t in wide.topological_sort()]

    seconds, plan = timed(load_and_plan)
    return Outcome(seconds, topologically_sorted(plan, shape), len(plan),
                   f"{len(plan)} tasks planned")


def run_throughput(args: Args) -> Outcome:
    warm_up, dag_ = use_dags("fanout:1", f"fanout:{THROUGHPUT_BATCH}")
    warm_up.test()

    def batch(n: int) -> bool:
        run = dag_.test()
        return succeeded(run) and output_of(run, "total") == n * (n - 1)

    return throughput_loop(args.seconds, batch)


def run_cli(args: Args) -> Outcome:
    """`airflow` as a local user types it, on AIRFLOW_HOME's metadata database (migrated by
    the harness), after one DAG run: its DAG listing is its nearest to a run listing."""
    use_dags("retrying:0")[0].test()
    airflow = str(Path(sys.executable).with_name("airflow"))
    return command_times({"--help": [airflow, "--help"],
                          "dags list": [airflow, "dags", "list"]},
                         args.n, "dags list", cwd=args.state)


if __name__ != "__main__":  # parsed from the DAGs folder by dag.test()
    globals().update(define_dags(os.environ.get(DAGS_VARIABLE, "")))
else:
    raise SystemExit(main({
        "chain": run_chain,
        "fanout": run_fanout,
        "sleep-chain": run_sleep_chain,
        "retry": run_retry,
        "wide-graph": run_wide_graph,
        "throughput": run_throughput,
        "cli": run_cli,
    }))
