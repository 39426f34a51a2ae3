"""Ctrl-C: the run is recorded as canceled, its unfinished steps too, the process exits
promptly and leaves nothing running. Each case runs a real script in a subprocess and sends
SIGINT to its whole process group, as a terminal does."""

from __future__ import annotations

import _thread
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import legato as lg
from legato.engine import runner
from legato.engine.runner import Runner
from legato.settings import Settings
from legato.store.sql_store import SqlStore

SCRIPT = textwrap.dedent('''
    import os, signal, sys, time
    from pathlib import Path
    import legato as lg
    import legato.engine.runner
    from legato.settings import Settings

    @lg.task
    def sleepy(i, marker):
        Path(marker, f"{i}-{os.getpid()}").touch()
        time.sleep(60)
        return i

    @lg.asset
    def slow_asset(ctx):
        Path(ctx.params["marker"], f"a-{os.getpid()}").touch()
        time.sleep(60)
        return 1

    @lg.asset
    def after_slow(slow_asset):
        return slow_asset

    @lg.flow
    def slow(marker: str):
        futures = sleepy.map(range(2), marker=marker)
        values = [f.result() for f in futures]
        return values + [sleepy(9, marker)]

    if __name__ == "__main__":
        # a shell without job control starts background commands with SIGINT ignored
        signal.signal(signal.SIGINT, signal.default_int_handler)
        home, executor, kind, marker, grace = sys.argv[1:6]
        if grace != "default":  # how long Ctrl-C waits for running steps to finish
            legato.engine.runner.CANCEL_GRACE_S = float(grace)
        settings = Settings(home=home, executor=executor, max_parallel=2)
        if kind == "flow":
            result = lg.run(slow, settings=settings, marker=marker)
        else:
            result = lg.materialize([slow_asset, after_slow], settings=settings,
                                    params={"marker": marker})
        print("STATUS", result.status, result.run_id, flush=True)
''')


def _descendants(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] not in ("Z", "X"):
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, stack = [], [root]
    while stack:
        for child in parents.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _describe(pid: int) -> str:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return f"{pid} (gone)"
    return f"{pid}: {cmdline.decode(errors='replace')}"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.parametrize(("executor", "kind", "expected_markers", "grace"), [
    ("threads", "flow", 2, "default"), ("processes", "flow", 2, "0.5"),
    ("inline", "flow", 1, "0.5"), ("threads", "assets", 1, "0.5"),
    ("processes", "assets", 1, "0.5"),
])
def test_ctrl_c_cancels_the_run(executor: str, kind: str, expected_markers: int, grace: str,
                                project: Path) -> None:
    script = project / "pipeline.py"
    script.write_text(SCRIPT)
    marker = project / "markers"
    marker.mkdir()
    home = project / ".legato"
    child = subprocess.Popen(
        [sys.executable, str(script), str(home), executor, kind, str(marker), grace],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while len(list(marker.iterdir())) < expected_markers:
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the steps never started"
            time.sleep(0.05)
        running = _descendants(child.pid)
        step_pids = [int(p.name.split("-")[1]) for p in marker.iterdir()]
        os.killpg(child.pid, signal.SIGINT)
        interrupted = time.monotonic()
        out, err = child.communicate(timeout=20)
        took = time.monotonic() - interrupted
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    assert took < 8, f"the process took {took:.1f} s to exit after Ctrl-C\n{err}"
    assert "STATUS canceled" in out, (out, err)
    assert "Traceback" not in err, err
    left = [*running, *step_pids]
    deadline = time.monotonic() + 3  # the forkserver notices its parent is gone
    while [pid for pid in left if _alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [_describe(pid) for pid in left if _alive(pid)], "left running"

    settings = Settings(home=home)
    with SqlStore(settings.store_url) as store:
        run = store.get_run("last")
        assert run.status == "canceled"
        assert run.error == "canceled by the user"
        steps = {s.step_key: s for s in store.get_steps(run.run_id)}
        events = store.get_events(run.run_id)
    assert run.run_id in out
    assert steps, "no step was recorded"
    assert {s.status for s in steps.values()} == {"canceled"}, {
        k: s.status for k, s in steps.items()}
    assert all(s.ended_at is not None for s in steps.values())
    assert events[-1].kind == "run_canceled"
    if kind == "flow":
        assert "sleepy-2" not in steps  # the flow never got past its first steps
    else:
        assert set(steps) == {"slow_asset", "after_slow"}


def test_a_canceled_run_records_what_finished(project: Path, make_settings: Any) -> None:
    """Steps that finished before Ctrl-C keep their status."""
    settings = make_settings(executor="threads")
    seen: list[Any] = []

    @lg.task
    def first() -> int:
        return 1

    @lg.task
    def interrupt() -> None:
        raise KeyboardInterrupt

    @lg.flow
    def flow() -> None:
        first()
        interrupt()

    result = Runner(settings, observer=seen.append).run(flow, {})
    assert result.status == "canceled"
    with SqlStore(settings.store_url) as store:
        steps = {s.step_key: s.status for s in store.get_steps(result.run_id)}
        assert store.get_run(result.run_id).status == "canceled"
    assert steps == {"first": "succeeded", "interrupt": "canceled"}
    assert result.steps["interrupt"].status == "canceled"
    assert seen[-1].kind == "run_canceled"


def test_a_canceled_run_in_a_long_lived_process_ignores_late_steps(
    project: Path, make_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a notebook or a server, the process lives on after Ctrl-C: a step abandoned in
    its thread must not write into the ended run when it finally returns."""
    monkeypatch.setattr(runner, "CANCEL_GRACE_S", 0.1)
    settings = make_settings(executor="threads")
    started = threading.Event()
    release = threading.Event()

    @lg.task
    def lingering() -> str:
        started.set()
        release.wait(10)
        return "too late"

    @lg.flow
    def flow() -> str:
        return lingering.submit().result()

    def interrupt() -> None:
        if started.wait(10):
            time.sleep(0.1)  # the main thread is waiting for the run by now
            _thread.interrupt_main()

    threading.Thread(target=interrupt, daemon=True).start()
    result = lg.run(flow, settings=settings)
    assert result.status == "canceled"
    assert result.steps["lingering"].status == "canceled"
    release.set()  # the abandoned step returns now, after the run ended
    time.sleep(0.3)
    with SqlStore(settings.store_url) as store:
        steps = {s.step_key: s for s in store.get_steps(result.run_id)}
        kinds = [e.kind for e in store.get_events(result.run_id)]
    assert steps["lingering"].status == "canceled"
    assert steps["lingering"].value_id is None
    assert kinds[-1] == "run_canceled"
    assert "step_succeeded" not in kinds
    assert not (settings.value_dir / result.run_id).exists()  # no value file either


def test_a_failing_flow_body_still_waits_for_its_steps(make_settings: Any) -> None:
    settings = make_settings(executor="threads", max_parallel=1)

    @lg.task
    def slowish(i: int) -> int:
        time.sleep(0.05)
        return i

    @lg.flow
    def flow() -> None:
        for i in range(3):
            slowish.submit(i)
        raise ValueError("the flow broke after starting its steps")

    result = lg.run(flow, settings=settings)
    assert result.status == "failed"
    assert result.error == "ValueError: the flow broke after starting its steps"
    with SqlStore(settings.store_url) as store:
        run = store.get_run(result.run_id)
        steps = store.get_steps(result.run_id)
    assert [s.status for s in steps] == ["succeeded"] * 3
    assert run.ended_at is not None
    assert all(s.ended_at is not None and s.ended_at <= run.ended_at for s in steps)
