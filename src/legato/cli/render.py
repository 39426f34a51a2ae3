"""How records look on a terminal: durations, ages, status colours, tables, and JSON.

Everything the user's code or the store wrote is shown as plain text (never as rich
markup), so a message holding ``[brackets]`` prints as it is.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from legato.services.views.assets import AssetView
    from legato.services.views.runs import RunView
    from legato.services.views.steps import AttemptView, StepView
    from legato.services.views.triggers import TriggerView

BIG_RUN = 30
"""Above this many steps, the summary after a run shows counts and the steps that did not
succeed, not every step."""

STATUS_STYLES = {
    "queued": "dim",
    "succeeded": "green",
    "cached": "cyan",
    "fallback": "yellow",
    "retrying": "yellow",
    "running": "blue",
    "failed": "bold red",
    "skipped": "magenta",
    "canceled": "yellow",
}
STATUS_ORDER = ("succeeded", "cached", "fallback", "running", "retrying", "failed", "skipped",
                "canceled")


PIPED_WIDTH = 1000
"""The width of tables written to a pipe or a file (``legato schedules | less``, CI logs):
their natural width, not the 80 columns rich assumes without a terminal."""


def make_console(*, stderr: bool = False) -> Console:
    """A console on the current stdout (or stderr), created when a command runs. Not on a
    terminal, and without ``COLUMNS``, lines are as long as they need (up to
    ``PIPED_WIDTH``): a reader scrolls sideways or greps, and nothing wraps mid-cell."""
    console = Console(file=sys.stderr if stderr else sys.stdout, highlight=False)
    if not console.is_terminal and not os.environ.get("COLUMNS", "").isdigit():
        console.width = PIPED_WIDTH
    return console


def print_json(data: Any) -> None:
    """The services' views as plain, strict JSON on stdout (``legato.services.views.to_json``):
    no colours, and no ``NaN`` or ``Infinity`` (which strict parsers reject)."""
    from legato.services.views.serialize import to_json

    sys.stdout.write(json.dumps(to_json(data), indent=2, default=str, allow_nan=False) + "\n")


def status_text(status: str) -> Text:
    return Text(str(status), style=STATUS_STYLES.get(str(status), ""))


def duration(seconds: float | None) -> str:
    """``0.012s``, ``1.4s``, ``2m 05s``, ``3h 02m``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    if seconds < 0.1:
        return f"{seconds:.3f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def ago(at: float | None, now: float | None = None) -> str:
    """``just now``, ``12s ago``, ``3m ago``, ``5h ago``, ``2d ago``."""
    if at is None:
        return "-"
    seconds = max(0.0, (time.time() if now is None else now) - at)
    if seconds < 1:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"


def timestamp(at: float | None) -> str:
    if at is None:
        return "-"
    return dt.datetime.fromtimestamp(at).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def counts_text(statuses: Iterable[str]) -> Text:
    """``3 succeeded · 1 failed · 2 skipped``, coloured."""
    counts = Counter(str(s) for s in statuses)
    text = Text()
    for status in (*STATUS_ORDER, *sorted(set(counts) - set(STATUS_ORDER))):
        if counts.get(status):
            if text:
                text.append(" · ", style="dim")
            text.append(f"{counts[status]} {status}", style=STATUS_STYLES.get(status, ""))
    return text or Text("no steps", style="dim")


def steps_table(steps: Sequence[StepView]) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("step", overflow="fold")
    table.add_column("status")
    table.add_column("attempts", justify="right")
    table.add_column("duration", justify="right")
    table.add_column("error / reason", overflow="fold")
    for step in steps:
        detail = step.reason or step.error or ""  # a reason tells the whole story
        table.add_row(
            Text(step.step_key), status_text(step.status), str(step.attempts or "-"),
            duration(step.duration_s),
            Text(detail, style="red" if step.status == "failed" else "dim"),
        )
    return table


def attempt_header(step_key: str, attempt: int, outcome: AttemptView | None) -> Text:
    """``── extract · attempt 2/4 failed after 0.3s: ValueError: boom``."""
    text = Text(f"── {step_key} · attempt {attempt}", style="bold")
    if outcome is None:
        return text
    if outcome.of is not None:
        text.append(f"/{outcome.of}", style="bold")
    text.append(" ")
    text.append_text(status_text(outcome.status))
    if outcome.duration_s is not None:
        text.append(f" after {duration(outcome.duration_s)}")
    if outcome.error:
        text.append(f": {outcome.error}", style="red")
    if outcome.status == "failed" and outcome.next == "retry":
        text.append(" (retrying)", style="dim")
    return text


TRACEBACK_LINES = 12
"""``legato show`` prints the last this many lines of a failed step's traceback."""


def traceback_text(step: StepView, *, full: bool) -> Text:
    """A failed step's traceback: its last lines, or all with ``full``."""
    lines = (step.traceback or "").rstrip().splitlines()
    text = Text(f"traceback of {step.step_key}", style="bold")
    if not full and len(lines) > TRACEBACK_LINES:
        text.append(f" (its last {TRACEBACK_LINES} lines of {len(lines)}; all of it: "
                    "--traceback)", style="dim")
        lines = lines[-TRACEBACK_LINES:]
    text.append(":\n")
    text.append("\n".join(lines), style="red")
    return text


def steps_summary(steps: Sequence[StepView]) -> RenderableType:
    """Every step; for a big run, the counts and only the steps that did not succeed."""
    if len(steps) <= BIG_RUN:
        return steps_table(steps)
    unusual = [s for s in steps if s.status not in ("succeeded", "cached")]
    parts: list[RenderableType] = [Text.assemble(f"{len(steps)} steps: ",
                                                 counts_text(s.status for s in steps))]
    if unusual:
        parts.append(steps_table(unusual))
    return Group(*parts)


def runs_table(runs: Sequence[RunView]) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("run")
    table.add_column("kind")
    table.add_column("target", overflow="fold")
    table.add_column("status")
    table.add_column("started")
    table.add_column("duration", justify="right")
    table.add_column("error", overflow="fold")
    now = time.time()
    for run in runs:
        target = run.target + (f" [{run.partition_key}]" if run.partition_key else "")
        table.add_row(run.run_id, run.kind, Text(target), status_text(run.status),
                      ago(run.created_at, now), duration(run.duration_s),
                      Text(run.error or "", style="red"))
    return table


def queue_table(runs: Sequence[RunView]) -> Table:
    """Queued runs, in the order workers claim them."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("run")
    table.add_column("target", overflow="fold")
    table.add_column("priority", justify="right")
    table.add_column("queued")
    table.add_column("tags", overflow="fold")
    table.add_column("params", overflow="fold")
    now = time.time()
    for run in runs:
        table.add_row(run.run_id, Text(run.target), str(run.priority), ago(run.created_at, now),
                      Text(", ".join(run.tags), style="dim"),
                      Text(json.dumps(run.params, default=str) if run.params else ""))
    return table


def run_header(run: RunView) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    grid.add_row("run", Text.assemble(run.run_id, "  ", status_text(run.status)))
    grid.add_row(run.kind, Text(run.target))
    if run.partition_key is not None:
        grid.add_row("partition", Text(run.partition_key))
    if run.backfill_id is not None:
        grid.add_row("backfill", Text(f"{run.backfill_id} (legato backfills status "
                                      f"{run.backfill_id})"))
    grid.add_row("started", f"{timestamp(run.created_at)} ({ago(run.created_at)})")
    grid.add_row("duration", duration(run.duration_s) if run.ended_at else "still running")
    if run.params:
        grid.add_row("params", Text(json.dumps(run.params, default=str)))
    if run.definitions:
        grid.add_row("source", Text(run.definitions))
    if run.idempotency_key:
        grid.add_row("key", Text(run.idempotency_key))
    if run.lease is not None:
        lease = run.lease
        grid.add_row("lease", Text(
            f"resumable: {lease.reason}; resume it with legato resume {run.run_id}",
            style="yellow") if lease.resumable else Text(
            f"held by {lease.owner} for {duration(lease.wait_s)} more"))
    if run.error:
        grid.add_row("error", Text(run.error, style="red"))
    return grid


def assets_table(assets: Sequence[AssetView]) -> Table:
    """One row per asset; when some are partitioned, a column of how many partitions were
    materialized ("12 of daily from ...")."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("asset", overflow="fold")
    table.add_column("materialized")
    table.add_column("run")
    table.add_column("rows", justify="right")
    table.add_column("data version")
    partitioned = any(asset.partitions is not None for asset in assets)
    if partitioned:
        table.add_column("partitions", overflow="fold")
    troubled = any(_trouble(asset) for asset in assets)
    if troubled:
        table.add_column("latest run", overflow="fold")
    now = time.time()
    for asset in assets:
        extra = [Text(_partitions_text(asset), style="dim")] if partitioned else []
        if troubled:
            extra.append(_outcome_text(asset, now))
        record = asset.latest_materialization
        if record is None:
            table.add_row(Text(asset.asset_key), Text("never materialized", style="dim"), "",
                          "", "", *extra)
        else:
            rows_text = "-" if record.row_count is None else f"{record.row_count:,}"
            table.add_row(Text(asset.asset_key), ago(record.created_at, now), record.run_id,
                          rows_text, record.data_version, *extra)
    return table


def _trouble(asset: AssetView) -> bool:
    """Its latest step did not succeed (it failed, fell back, was skipped or canceled)."""
    return (asset.latest_outcome is not None
            and asset.latest_outcome.status not in ("succeeded", "cached"))


def _outcome_text(asset: AssetView, now: float) -> Text:
    """``failed 3m ago (run 1a2b...): ValueError: boom`` for an asset in trouble."""
    outcome = asset.latest_outcome
    if outcome is None or not _trouble(asset):
        return Text("")
    text = status_text(outcome.status) + Text(f" {ago(outcome.ended_at, now)} (run "
                                              f"{outcome.run_id})")
    detail = outcome.error or outcome.reason
    if detail:
        text.append(f": {detail.splitlines()[0]}", style="dim")
    return text


def _partitions_text(asset: AssetView) -> str:
    p = asset.partitions
    if p is None:
        return ""
    return f"{p.materialized:,}" + (f" of {p.definition}" if p.definition is not None
                                    else " materialized")


def schedules_table(triggers: Sequence[TriggerView]) -> Table:
    """One row per schedule, sensor and asset trigger; next fire times one per line, local
    and UTC; paused or active, and the last tick."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("name", overflow="fold")
    table.add_column("runs", overflow="fold")
    table.add_column("when", overflow="fold")
    table.add_column("catch-up", no_wrap=True)
    table.add_column("next (local)", no_wrap=True)
    table.add_column("next (UTC)", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("last tick", overflow="fold")
    for row in triggers:
        runs = (f"flow {row.flow}" if row.flow else f"assets {', '.join(row.selection)}")
        catch_up = "-"
        when = row.cadence
        if row.catch_up is not None:
            policy = row.catch_up
            catch_up = f"all ≤{policy.limit}" if policy.policy == "all" else policy.policy
        if row.kind == "schedule" and row.cron is not None:
            when = f"{row.cron}\n{row.timezone}"
        seconds = _to_the_second(row)
        local = "\n".join(_short_time(t.local, row.timezone, seconds=seconds)
                          for t in row.next)
        utc = "\n".join(_short_time(t.at, seconds=seconds) for t in row.next)
        state = Text("paused", style="yellow") if row.paused else Text("active")
        table.add_row(Text(row.name), Text(runs), Text(when), catch_up,
                      local or ("-" if row.kind == "asset_trigger" else "never"),
                      utc or "-", state, _last_tick(row))
    return table


def _last_tick(row: TriggerView) -> Text:
    tick = row.last_tick
    if tick is None:
        return Text("-", style="dim")
    style = {"requested": "green", "failed": "red"}.get(tick.status, "dim")
    text = Text(f"{timestamp(tick.at)} ") + Text(tick.status, style=style)
    detail = tick.detail if tick.status != "requested" else tick.run_id
    if detail:
        text += Text(f": {detail.splitlines()[0]}")
    return text


def _to_the_second(row: TriggerView) -> bool:
    """Whether a trigger's next times need their seconds: an interval that is not whole
    minutes (every 30 s fires at :00 and :30), or a tick off the minute."""
    uneven = row.interval_seconds is not None and row.interval_seconds % 60 != 0
    return uneven or any(dt.datetime.fromisoformat(t.at).second for t in row.next)


def _short_time(iso: str, tz: str | None = None, *, seconds: bool = False) -> str:
    """``2026-03-29 03:00 CEST`` (in ``tz``) or ``2026-03-29 01:00`` (as given); with
    ``seconds``, ``2026-03-29 01:00:30``."""
    at = dt.datetime.fromisoformat(iso)
    if tz is not None:
        from zoneinfo import ZoneInfo

        at = at.astimezone(ZoneInfo(tz))
    text = at.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return f"{text} {at.tzname()}" if tz is not None else text


def where(url: str) -> str:
    """A store's URL as shown to people: without its password."""
    from sqlalchemy.engine import make_url

    return str(make_url(url).render_as_string(hide_password=True))
