"""Lanes: the engine's daemon thread pool."""

from __future__ import annotations

import contextvars
import subprocess
import sys
import threading
import time
from concurrent.futures import CancelledError

import pytest

from legato.executors.lanes import Lanes

where: contextvars.ContextVar[str] = contextvars.ContextVar("where", default="nowhere")


def test_at_most_size_run_at_once() -> None:
    lanes = Lanes(3)
    lock = threading.Lock()
    running = most = 0

    def work() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1

    futures = [lanes.submit(work) for _ in range(9)]
    for future in futures:
        future.result(timeout=5)
    lanes.shutdown()
    assert most == 3


def test_results_errors_and_context() -> None:
    lanes = Lanes(2)
    where.set("caller")
    assert lanes.submit(lambda: 41 + 1).result(timeout=5) == 42
    assert lanes.submit(where.get).result(timeout=5) == "caller"
    failing = lanes.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        failing.result(timeout=5)
    lanes.shutdown()
    with pytest.raises(RuntimeError, match="closed"):
        lanes.submit(lambda: None)


def test_threads_are_daemons_and_reused() -> None:
    lanes = Lanes(4)
    names = {lanes.submit(lambda: threading.current_thread().name).result(timeout=5)
             for _ in range(5)}
    assert lanes.submit(lambda: threading.current_thread().daemon).result(timeout=5)
    assert len(names) == 1  # one idle lane serves calls one after the other
    lanes.shutdown()


def test_shutdown_with_cancel_drops_queued_work() -> None:
    lanes = Lanes(1)
    release = threading.Event()
    busy = lanes.submit(lambda: release.wait(5))
    queued = lanes.submit(lambda: "never")
    lanes.shutdown(cancel=True)
    assert queued.cancelled()
    with pytest.raises(CancelledError):
        queued.result(timeout=1)
    release.set()
    assert busy.result(timeout=5) is True


def test_a_busy_lane_does_not_keep_the_interpreter_alive() -> None:
    script = ("import time\nfrom legato.executors.lanes import Lanes\n"
              "Lanes(1).submit(lambda: time.sleep(60))\ntime.sleep(0.1)\nprint('bye')\n")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=30, check=True)
    assert done.stdout.strip() == "bye"
    assert time.monotonic() - started < 10
