"""What the user sees while a run is in progress.

``RunProgress`` is the Runner's observer: it is called with every event the run records,
from several threads at once. On a terminal it keeps a rich ``Live`` display (refreshed
8 times a second) with the count of steps in each state and the names of the steps running
now; elsewhere (a pipe, a CI log) it prints one plain line per finished step.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from legato.cli.render import STATUS_STYLES, duration

if TYPE_CHECKING:
    from legato.services.execution import Event

SHOWN_RUNNING = 6
"""The live display names at most this many running steps."""

LIVE_COUNTS = ("done", "running", "retrying", "failed", "skipped", "fallback", "canceled")
_DONE = {"succeeded", "cached"}
_FINAL = {"succeeded", "cached", "failed", "skipped", "fallback", "canceled"}


class RunProgress:
    """Use as a context manager around the run, and pass it as the Runner's observer."""

    def __init__(self, console: Console, *, live: bool | None = None) -> None:
        self.console = console
        self.live = console.is_terminal if live is None else live
        self._lock = threading.Lock()
        self._status: dict[str, str] = {}
        self._started_at: dict[str, float] = {}
        self._began = time.monotonic()
        self._spinner = Spinner("dots", style="cyan")
        self._display: Live | None = None
        self._quiet = False
        self.run_id: str | None = None
        """The run's id, from its first event."""

    # -- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> RunProgress:
        if self.live:
            self._display = Live(self, console=self.console, refresh_per_second=8,
                                 transient=True, redirect_stdout=False, redirect_stderr=False)
            self._display.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._display is not None:
            self._display.stop()
            self._display = None

    # -- the observer -------------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        self.run_id = self.run_id or event.run_id
        key = event.step_key
        if key is None or not event.kind.startswith("step_"):
            return
        status = _status_after(event)
        if status is None:
            return
        with self._lock:
            if status == "running":
                self._started_at.setdefault(key, event.at)
            self._status[key] = status
            if status in _FINAL and not self.live and not self._quiet:
                try:
                    self._print_finished(key, status, event)
                except (OSError, SystemExit):  # stdout went away (| head): rich raises
                    self._quiet = True           # SystemExit; the run must not fail for it

    def _print_finished(self, key: str, status: str, event: Event) -> None:
        started = self._started_at.get(key, event.data.get("started_at") or event.at)
        line = Text()
        line.append(f"{status:<10}", style=STATUS_STYLES.get(status, ""))
        line.append(f" {key}  {duration(max(0.0, event.at - started))}")
        detail = event.data.get("reason") or event.data.get("error")
        if detail:
            line.append(f"  {detail}", style="dim")
        self.console.print(line, soft_wrap=True)

    # -- the live display ---------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """How many steps are in each state of ``LIVE_COUNTS`` now."""
        with self._lock:
            statuses = list(self._status.values())
        found = dict.fromkeys(LIVE_COUNTS, 0)
        for status in statuses:
            name = "done" if status in _DONE else status
            if name in found:
                found[name] += 1
        return found

    def running(self) -> list[str]:
        with self._lock:
            return [key for key, status in self._status.items() if status == "running"]

    def __rich__(self) -> RenderableType:
        counts = self.counts()
        running = self.running()
        line = Text(f"{time.monotonic() - self._began:5.1f}s  ")
        for i, name in enumerate(LIVE_COUNTS):
            if name == "canceled" and not counts[name]:
                continue
            if i:
                line.append(" · ", style="dim")
            style = STATUS_STYLES.get("succeeded" if name == "done" else name, "")
            line.append(f"{counts[name]} {name}", style=style if counts[name] else "dim")
        self._spinner.update(text=line)
        if not running:
            return self._spinner
        names = ", ".join(running[:SHOWN_RUNNING])
        if len(running) > SHOWN_RUNNING:
            names += f", +{len(running) - SHOWN_RUNNING} more"
        return Group(self._spinner, Text(f"  running: {names}", style="blue"))


def _status_after(event: Event) -> str | None:
    """The step's state once ``event`` applies; None when the event does not change it."""
    kind = event.kind
    if kind == "step_started":
        return "running"
    if kind == "step_succeeded":
        return "succeeded"
    if kind == "step_failed":
        follows = event.data.get("next") or ("retry" if event.data.get("will_retry") else "fail")
        # after "fallback", a step_fallback (or a final step_failed) follows
        return {"retry": "retrying", "fail": "failed"}.get(follows)
    settled = kind.removeprefix("step_")
    return settled if settled in _FINAL else None
