"""Stopping ``legato worker``, ``legato serve`` and ``legato run`` while steps run: the
first Ctrl-C or SIGTERM says at once (stderr) what the process waits for and how to force
it; the second forces it (issue 11, item 13). Real processes, real signals."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

import pytest
from tests.cli.test_worker import SLEEPY  # the same long-napping flow

if TYPE_CHECKING:
    from tests.cli.conftest import Cli, Script



class Watched:
    """A ``legato`` process whose stderr is read as it comes."""

    def __init__(self, legato: Script, project: Path, *args: str) -> None:
        self.process = subprocess.Popen([*legato.command, *args], cwd=project,
                                        env=legato.env(), stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        self.err: list[str] = []
        self.out: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(stream, lines), daemon=True)
                         for stream, lines in ((self.process.stderr, self.err),
                                               (self.process.stdout, self.out))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: IO[str] | None, lines: list[str]) -> None:
        assert stream is not None
        with stream:
            for line in stream:
                lines.append(line)

    def wait_for(self, text: str, within: float, *, stdout: bool = False) -> float:
        """How long ``text`` took to appear on stderr (or stdout; fails after ``within``
        seconds)."""
        lines = self.out if stdout else self.err
        began = time.monotonic()
        while not any(text in line for line in lines):
            assert time.monotonic() - began < within, (
                f"{text!r} not seen after {within}s: {''.join(self.err)}")
            time.sleep(0.02)
        return time.monotonic() - began

    def finish(self, within: float) -> int:
        try:
            self.process.wait(timeout=within)
        finally:
            self.stop()
        return self.process.returncode

    def stop(self) -> None:
        """Kill it if it still runs, and close its pipes (a test that failed midway)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for reader in self._readers:
            reader.join(5)


@pytest.fixture
def watch(legato: Script, project: Path) -> Iterator[Callable[..., Watched]]:
    """``watch("worker", ...)``: a ``legato`` process, stopped at the end of the test
    whatever happened."""
    started: list[Watched] = []

    def start(*args: str) -> Watched:
        started.append(Watched(legato, project, *args))
        return started[-1]

    yield start
    for watched in started:
        watched.stop()


def _napping(project: Path, watched: Watched) -> None:
    deadline = time.monotonic() + 60
    while not (project / "napping").exists():
        assert time.monotonic() < deadline and watched.process.poll() is None, "".join(
            watched.err)
        time.sleep(0.05)


def test_a_stopping_worker_says_what_it_waits_for_and_a_second_signal_forces_it(
        cli: Cli, watch: Callable[..., Watched], project: Path) -> None:
    (project / "sleepy.py").write_text(SLEEPY)
    run_id = cli.json("trigger", "sleepy.py", "sleepy", "--json")["run_id"]
    worker = watch("worker", "--grace", "60")
    _napping(project, worker)
    worker.process.send_signal(signal.SIGINT)
    assert worker.wait_for("waiting up to 60s for 1 run(s) under way", within=3) < 3
    waiting = "".join(worker.err)
    assert f"  run {run_id} sleepy: nap" in waiting
    assert "press Ctrl-C again" in waiting and "legato resume RUN" in waiting
    assert f"kill -9 {worker.process.pid}" in waiting
    time.sleep(0.3)
    assert worker.process.poll() is None  # waiting, as it said
    worker.process.send_signal(signal.SIGINT)
    worker.wait_for("releasing the runs under way now (1)", within=3)
    assert worker.finish(within=10) == 0
    assert cli.json("show", run_id, "--json")["run"]["lease"]["resumable"] is True


def test_a_stopping_server_says_it_too_on_sigterm(cli: Cli, watch: Callable[..., Watched],
                                                  project: Path) -> None:
    (project / "sleepy.py").write_text(SLEEPY)
    run_id = cli.json("trigger", "sleepy.py", "sleepy", "--json")["run_id"]
    server = watch("serve", "sleepy.py", "--grace", "60")
    _napping(project, server)
    server.process.send_signal(signal.SIGTERM)
    server.wait_for(f"  run {run_id} sleepy: nap", within=3)
    server.process.send_signal(signal.SIGTERM)
    server.wait_for("releasing the runs under way now", within=3)
    assert server.finish(within=10) == 0


def test_an_idle_worker_says_it_has_nothing_to_wait_for(watch: Callable[..., Watched]
                                                        ) -> None:
    worker = watch("worker")
    worker.wait_for("slots on", within=30, stdout=True)
    time.sleep(0.5)  # its signal handlers are set just after it says so
    worker.process.send_signal(signal.SIGTERM)
    worker.wait_for("stopping: no runs under way", within=3)
    assert worker.finish(within=10) == 0


def test_ctrl_c_in_legato_run_says_which_steps_it_waits_for(
        watch: Callable[..., Watched], project: Path) -> None:
    (project / "sleepy.py").write_text(SLEEPY)
    run = watch("run", "sleepy.py", "sleepy", "--executor", "threads")
    _napping(project, run)
    run.process.send_signal(signal.SIGINT)
    run.wait_for("waiting up to 3s for step nap", within=2)
    said = "".join(run.err)
    assert "press Ctrl-C again to stop waiting" in said
    assert f"kill -9 {run.process.pid}, then legato resume " in said
    run.process.send_signal(signal.SIGINT)
    run.wait_for("now, without waiting for its steps", within=2)
    assert run.finish(within=10) == 130
