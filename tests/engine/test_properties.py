"""Execution semantics as properties (Hypothesis): random asset graphs, each asset failing a
random number of times (by raising, or by running past its timeout) under a random retry
policy. For every example:

- a step whose upstream succeeded gets ``min(failures, retries) + 1`` attempts, and
  succeeds exactly when ``failures <= retries``;
- the planned wait before each retry is within the policy's bounds, and the next attempt
  does not start before it is over;
- downstream of a step that failed for good is skipped, with a reason naming the upstream,
  and its body never runs;
- with the processes executor, no worker process outlives the run (timed-out ones are
  killed).

``test_retries.py`` holds the single-step cases and ``lg.Retry.delay`` alone; this suite puts
them together in graphs.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cloudpickle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import legato as lg
from legato.store.sql_store import SqlStore

cloudpickle.register_pickle_by_value(sys.modules[__name__])

TIMEOUT_S = 0.15


@dataclass(frozen=True)
class Plan:
    key: str
    upstream: tuple[str, ...]
    failures: int
    mode: str  # raise | timeout
    retries: int
    base: float
    cap: float
    jitter: bool


def behave(ctx: lg.StepContext) -> str:
    """The body of every generated asset: note the attempt, then fail as planned."""
    plan = ctx.params["plan"][ctx.step_key]
    with open(ctx.params["ledger"], "a") as ledger:
        ledger.write(f"{ctx.step_key} {ctx.attempt} {os.getpid()}\n")
    if ctx.attempt <= plan["failures"]:
        if plan["mode"] == "timeout":
            import time

            time.sleep(TIMEOUT_S * 8)
            return "too late"
        raise RuntimeError(f"{ctx.step_key} fails attempt {ctx.attempt}")
    return ctx.step_key


def make_asset(plan: Plan) -> Any:
    names = ", ".join(["ctx", *plan.upstream])
    namespace: dict[str, Any] = {"behave": behave, "__name__": "legato_generated_assets"}
    exec(f"def {plan.key}({names}):\n    return behave(ctx)\n", namespace)
    retry = lg.Retry(plan.retries, backoff="exponential", base=plan.base,
                     max_delay=plan.cap, jitter=plan.jitter)
    timeout = TIMEOUT_S if plan.mode == "timeout" and plan.failures else None
    return lg.asset(key=plan.key, retries=retry, timeout=timeout)(namespace[plan.key])


@st.composite
def graphs(draw: st.DrawFn, max_assets: int = 6, timeouts: bool = True) -> list[Plan]:
    count = draw(st.integers(1, max_assets))
    plans: list[Plan] = []
    for i in range(count):
        earlier = [p.key for p in plans]
        upstream = draw(st.lists(st.sampled_from(earlier), max_size=2, unique=True)
                        if earlier else st.just([]))
        plans.append(Plan(
            key=f"n{i}", upstream=tuple(upstream), failures=draw(st.integers(0, 3)),
            mode=draw(st.sampled_from(["raise", "timeout"] if timeouts else ["raise"])),
            retries=draw(st.integers(0, 2)),
            base=draw(st.sampled_from([0.0, 0.005, 0.02])),
            cap=draw(st.sampled_from([0.01, 0.05])), jitter=draw(st.booleans())))
    return plans


def run_graph(plans: list[Plan], home: Path, executor: str) -> tuple[Any, list[Any],
                                                                        Counter[str]]:
    ledger = home / "ledger.txt"
    ledger.touch()
    params = {"ledger": str(ledger), "plan": {p.key: {"failures": p.failures,
                                                      "mode": p.mode} for p in plans}}
    cfg = lg.Settings(home=home / ".legato", executor=executor, max_parallel=3)
    result = lg.materialize([make_asset(p) for p in plans], params=params, settings=cfg)
    with SqlStore(cfg.store_url) as store:
        events = store.get_events(result.run_id)
    bodies = Counter(line.split()[0] for line in ledger.read_text().splitlines())
    return result, events, bodies


def check(plans: list[Plan], result: Any, events: list[Any], bodies: Counter[str]) -> None:
    by_key = {p.key: p for p in plans}
    ok: dict[str, bool] = {}
    for plan in plans:  # in order: upstream first
        step = result.steps[plan.key]
        blocked = [up for up in plan.upstream if not ok[up]]
        if blocked:
            assert step.status == "skipped", (plan, step)
            assert step.reason and step.reason.startswith("upstream '")
            assert step.reason.split("'")[1] in blocked
            assert bodies[plan.key] == 0, f"{plan.key} ran although it was skipped"
            ok[plan.key] = False
            continue
        attempts = min(plan.failures, plan.retries) + 1
        assert step.attempts == attempts, (plan, step)
        assert bodies[plan.key] == attempts
        ok[plan.key] = plan.failures <= plan.retries
        assert step.status == ("succeeded" if ok[plan.key] else "failed"), (plan, step)
        if plan.mode == "timeout" and plan.failures:
            failed = [e for e in events if e.step_key == plan.key and e.kind == "step_failed"]
            assert all("timed out after" in e.data["error"] for e in failed)
    for plan in plans:
        failed = {e.attempt: e for e in events
                  if e.step_key == plan.key and e.kind == "step_failed"}
        started = {e.attempt: e.at for e in events
                   if e.step_key == plan.key and e.kind == "step_started"}
        for attempt, event in failed.items():
            planned = event.data["retry_in"]
            if event.data["next"] != "retry":
                assert planned == 0
                continue
            expected = min(by_key[plan.key].base * 2 ** (attempt - 1), by_key[plan.key].cap)
            low = expected / 2 if by_key[plan.key].jitter else expected
            assert low - 0.001 <= planned <= expected + 0.001, (plan, attempt, planned)
            assert started[attempt + 1] - event.at >= planned - 0.005
    assert result.ok == all(ok.values())


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(plans=graphs())
def test_graphs_with_failures_retries_and_timeouts(plans: list[Plan],
                                                   tmp_path_factory: Any) -> None:
    home = tmp_path_factory.mktemp("graph")
    result, events, bodies = run_graph(plans, home, "threads")
    check(plans, result, events, bodies)


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(plans=graphs(max_assets=4))
def test_timed_out_worker_processes_do_not_outlive_the_run(plans: list[Plan],
                                                           tmp_path_factory: Any) -> None:
    home = tmp_path_factory.mktemp("graph")
    result, events, bodies = run_graph(plans, home, "processes")
    check(plans, result, events, bodies)
    workers = {int(line.split()[2]) for line in (home / "ledger.txt").read_text().splitlines()}
    assert os.getpid() not in workers
    assert not [pid for pid in workers if alive(pid)], "a worker process outlived its run"


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")
