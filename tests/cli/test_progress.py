"""The live progress display, fed with events as the Runner's observer is."""

from __future__ import annotations

import io
import threading
import time

from rich.console import Console

from legato.cli.progress import RunProgress
from legato.store.records import Event

RUN = "run1"


def _event(kind: str, key: str, attempt: int | None = 1, at: float = 100.0,
           **data: object) -> Event:
    return Event(RUN, key, attempt, kind, at, dict(data))


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=120, color_system=None), out


def test_plain_lines_when_not_a_terminal() -> None:
    console, out = _console(terminal=False)
    progress = RunProgress(console)
    assert progress.live is False
    with progress:
        progress(Event(RUN, None, None, "run_started", 99.0, {}))
        progress(_event("step_started", "a", at=100.0))
        progress(_event("step_failed", "a", at=100.5, next="retry", error="E: first"))
        progress(_event("step_started", "a", attempt=2, at=101.0))
        progress(_event("step_succeeded", "a", attempt=2, at=102.5))
        progress(_event("step_started", "b", at=100.0))
        progress(_event("step_failed", "b", at=100.2, next="fallback", error="E: b broke"))
        progress(_event("step_fallback", "b", at=100.3, reason="serving the last good value"))
        progress(_event("step_skipped", "c", None, at=103.0, started_at=103.0,
                        reason="upstream 'x' failed"))
        progress(_event("step_started", "d", at=100.0))
        progress(_event("step_failed", "d", at=101.0, next="fail", error="ValueError: no"))
    assert out.getvalue().splitlines() == [
        "succeeded  a  2.5s",
        "fallback   b  0.3s  serving the last good value",
        "skipped    c  0.000s  upstream 'x' failed",
        "failed     d  1.0s  ValueError: no",
    ]
    assert progress.counts() == {"done": 1, "running": 0, "retrying": 0, "failed": 1,
                                 "skipped": 1, "fallback": 1, "canceled": 0}


def test_counts_follow_each_step_through_its_states() -> None:
    console, _ = _console(terminal=False)
    progress = RunProgress(console, live=False)
    progress(_event("step_started", "a"))
    progress(_event("step_started", "b"))
    assert progress.counts()["running"] == 2
    assert progress.running() == ["a", "b"]
    progress(_event("step_failed", "a", next="retry", error="x"))
    assert progress.counts()["retrying"] == 1
    assert progress.running() == ["b"]
    progress(_event("step_cached", "b", reason="reused"))
    progress(_event("step_canceled", "a", reason="the run was canceled"))
    counts = progress.counts()
    assert (counts["done"], counts["canceled"], counts["running"]) == (1, 1, 0)


def test_live_display_from_many_threads() -> None:
    console, out = _console(terminal=True)
    steps_per_thread, threads = 50, 8
    with RunProgress(console) as progress:
        assert progress.live is True

        def work(n: int) -> None:
            for i in range(steps_per_thread):
                key = f"t{n}[{i}]"
                progress(_event("step_started", key))
                if i % 10 == 0:
                    progress(_event("step_failed", key, next="fail", error="boom"))
                else:
                    progress(_event("step_succeeded", key))

        progress(_event("step_started", "slow"))
        workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        time.sleep(0.4)  # let the display refresh at least once with the final counts
        counts = progress.counts()
    total = steps_per_thread * threads
    assert counts["failed"] == total // 10
    assert counts["done"] == total - total // 10
    assert counts["running"] == 1
    frames = out.getvalue()
    assert f"{total - total // 10} done" in frames
    assert f"{total // 10} failed" in frames
    assert "running: slow" in frames
    # no plain per-step lines on a terminal: the live display replaces them
    assert "succeeded  t0[1]" not in frames


def test_running_names_are_capped() -> None:
    console, _ = _console(terminal=True)
    progress = RunProgress(console, live=False)
    for i in range(9):
        progress(_event("step_started", f"s{i}"))
    rendered = io.StringIO()
    Console(file=rendered, width=200, color_system=None).print(progress)
    assert "running: s0, s1, s2, s3, s4, s5, +3 more" in rendered.getvalue()
    assert "9 running" in rendered.getvalue()
