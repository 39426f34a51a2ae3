"""What the user sees while ``legato backfill`` runs: a live progress bar of partitions.

On a terminal, a rich ``Progress`` bar with the partitions done of the total, and how
many failed, are running and are queued, the rate (partitions a second, over this
session) and the time left at that rate. Elsewhere (a pipe, a CI log), one plain line
every few seconds and one at the end.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from legato.cli.render import duration

if TYPE_CHECKING:
    from legato.services.views.backfills import BackfillProgressView

PLAIN_EVERY_S = 5.0


class BackfillBar:
    """A context manager; ``update`` is the driver's progress callback."""

    def __init__(self, console: Console, label: str, *, live: bool | None = None) -> None:
        self.console = console
        self.label = label
        self.live = console.is_terminal if live is None else live
        self._started = time.monotonic()
        self._first_done: int | None = None
        self._printed = 0.0
        self._last: BackfillProgressView | None = None
        self._bar = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"), TextColumn("{task.fields[pace]}"),
            console=console, transient=False, disable=not self.live)
        self._task: TaskID | None = None

    def __enter__(self) -> BackfillBar:
        if self.live:
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=None, counts="", pace="")
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.live:
            self._bar.stop()
        elif self._last is not None:
            self.console.print(self._line(self._last), soft_wrap=True, highlight=False)

    def update(self, progress: BackfillProgressView) -> None:
        self._last = progress
        if self._first_done is None:
            self._first_done = progress.done
        if self.live and self._task is not None:
            self._bar.update(self._task, total=progress.total, completed=progress.done,
                             counts=self._counts(progress), pace=self._pace(progress))
            return
        now = time.monotonic()
        if now - self._printed >= PLAIN_EVERY_S and not progress.finished:
            self._printed = now
            self.console.print(self._line(progress), soft_wrap=True, highlight=False)

    def _counts(self, p: BackfillProgressView) -> str:
        failed = f"[red]{p.failed} failed[/]" if p.failed else "0 failed"
        return f"{failed} · {p.running} running · {p.queued} queued"

    def _pace(self, p: BackfillProgressView) -> str:
        """Partitions a second since this command started, and the time left at that pace."""
        if p.done >= p.total:
            return "done"
        elapsed = time.monotonic() - self._started
        ended = p.done - (self._first_done or 0)
        if ended <= 0 or elapsed <= 0:
            return "-/s · ETA -"
        rate = ended / elapsed
        left = (p.total - p.done) / rate
        return f"{rate:.1f}/s · ETA {duration(left)}"

    def _line(self, p: BackfillProgressView) -> str:
        return (f"{self.label}: {p.done}/{p.total} done · {p.failed} failed · {p.running} "
                f"running · {p.queued} queued · {self._pace(p)}")
