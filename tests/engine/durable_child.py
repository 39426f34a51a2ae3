"""The 50-step runs of the durability tests, run in a child process that the tests kill.

    python durable_child.py start KIND HOME LEDGER [--url URL] [--key KEY] [--ttl S]
    python durable_child.py resume RUN_ID HOME [--url URL] [--wait] [--ttl S]

KIND is ``flow`` (a chain of 20 tasks, a retrying task, a ``.map`` over 27 items, a sum and
a last step: 50 steps) or ``assets`` (the same shape as 50 assets). Every step body appends a
line to the LEDGER file (``step_key attempt pid time``), with no uniqueness: the tests compare
it with what the store committed. ``LEGATO_FAULT`` arms a crash point. The last line printed
is a JSON object: ``{"run_id": ..., "status": ...}`` or ``{"error": ..., "message": ...}``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import legato as lg

CHAIN = 20
FANOUT = 27
STEPS = CHAIN + 1 + FANOUT + 2
FLAKY_FAILURES = 2  # the retrying step fails its first two attempts


def ledger(ctx: lg.StepContext) -> None:
    """Record that this body ran: one line, appended whole (O_APPEND)."""
    line = f"{ctx.step_key} {ctx.attempt} {os.getpid()} {time.time()!r}\n".encode()
    handle = os.open(ctx.params["ledger"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(handle, line)
    finally:
        os.close(handle)
    time.sleep(float(ctx.params.get("pause", 0.004)) * random.uniform(0.5, 1.0))


# -- the flow ------------------------------------------------------------------------------


@lg.task
def link(ctx: lg.StepContext, i: int, previous: int) -> int:
    ledger(ctx)
    return previous + i


@lg.task(retries=lg.Retry(FLAKY_FAILURES + 1, base=0.005, jitter=False))
def flaky(ctx: lg.StepContext, value: int) -> int:
    ledger(ctx)
    if ctx.attempt <= FLAKY_FAILURES:
        raise RuntimeError(f"attempt {ctx.attempt} fails on purpose")
    return value


@lg.task
def square(ctx: lg.StepContext, i: int) -> set[int]:
    ledger(ctx)
    return {i, i * i}  # a set is pickled: a value file, not inline JSON


@lg.task
def total(ctx: lg.StepContext, parts: list[set[int]], base: int) -> int:
    ledger(ctx)
    return base + sum(sum(part) for part in parts)


@lg.task
def finish(ctx: lg.StepContext, value: int) -> dict[str, int]:
    ledger(ctx)
    return {"total": value}


@lg.flow
def durable(ledger: str, pause: float = 0.004) -> dict[str, int]:
    value = 0
    for i in range(CHAIN):
        value = link(i, value)
    value = flaky(value)
    parts = square.map(range(FANOUT))
    return finish(total([part.result() for part in parts], value))


def expected_output() -> dict[str, int]:
    base = sum(range(CHAIN))
    return {"total": base + sum(i + i * i if i != i * i else i for i in range(FANOUT))}


# -- the same shape as assets ------------------------------------------------------------------


def _asset(key: str, upstream: list[str], body: str, **options: Any) -> Any:
    """An asset whose parameters name its upstream assets (generated, as there are 50)."""
    names = ", ".join(["ctx", *upstream])
    namespace: dict[str, Any] = {"ledger": ledger, "__name__": __name__}
    exec(f"def {key}({names}):\n    ledger(ctx)\n    {body}\n", namespace)
    return lg.asset(key=key, **options)(namespace[key])


def _assets() -> list[Any]:
    made = [_asset("a0", [], "return 0")]
    for i in range(1, CHAIN):
        made.append(_asset(f"a{i}", [f"a{i - 1}"], f"return a{i - 1} + {i}"))
    made.append(_asset(
        "flaky_asset", [f"a{CHAIN - 1}"],
        f"if ctx.attempt <= {FLAKY_FAILURES}: raise RuntimeError('fails on purpose')\n"
        f"    return a{CHAIN - 1}",
        retries=lg.Retry(FLAKY_FAILURES + 1, base=0.005, jitter=False)))
    made += [_asset(f"b{i}", ["flaky_asset"], f"return {{{i}, {i * i}}}")
             for i in range(FANOUT)]
    parts = [f"b{i}" for i in range(FANOUT)]
    made.append(_asset("assets_total", ["flaky_asset", *parts],
                       f"return flaky_asset + sum(sum(p) for p in [{', '.join(parts)}])"))
    made.append(_asset("assets_finish", ["assets_total"], "return {'total': assets_total}"))
    return made


ASSETS = _assets()
defs = lg.Definitions(assets=ASSETS, flows=[durable],
                      tasks=[link, flaky, square, total, finish])


# -- the command line --------------------------------------------------------------------------


def settings(args: argparse.Namespace) -> lg.Settings:
    return lg.Settings(home=Path(args.home), database_url=args.url, lease_ttl=args.ttl,
                       executor="threads", max_parallel=4)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["start", "resume"])
    parser.add_argument("what")  # KIND, or the run id to resume
    parser.add_argument("home")
    parser.add_argument("ledger", nargs="?")
    parser.add_argument("--url")
    parser.add_argument("--key")
    parser.add_argument("--ttl", type=float, default=30.0)
    parser.add_argument("--pause", type=float, default=0.004)
    parser.add_argument("--wait", action="store_true")
    args = parser.parse_args()
    try:
        if args.mode == "start" and args.what == "flow":
            result = lg.run(durable, settings=settings(args), idempotency_key=args.key,
                            ledger=args.ledger, pause=args.pause)
        elif args.mode == "start":
            result = lg.materialize(defs, params={"ledger": args.ledger, "pause": args.pause},
                                    settings=settings(args))
        else:
            result = lg.resume(args.what, settings=settings(args), wait=args.wait)
    except lg.LegatoError as error:
        print(json.dumps({"error": type(error).__name__, "message": str(error)}))
        sys.exit(3)
    print(json.dumps({"run_id": result.run_id, "status": str(result.status),
                      "output": result.output}))


if __name__ == "__main__":
    main()
