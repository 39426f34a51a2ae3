"""Helpers for the backfill tests: a project module of partitioned assets whose bodies log
when they ran, and what those logs tell (executions per partition, concurrency)."""

from __future__ import annotations

import datetime as dt
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import pytest

ASSETS = '''
import os
import time

import legato as lg

DAILY = lg.DailyPartitions(start="2020-01-01")


def _log(line):
    with open(os.environ["BACKFILL_LOG"], "a") as log:  # one write: appends stay whole
        log.write(line + "\\n")


@lg.asset(partitions=DAILY)
def days(ctx):
    start = time.time()
    time.sleep(float(os.environ.get("BODY_S", "0")))
    if ctx.partition_key in os.environ.get("FAIL_ON", "").split(","):
        raise ValueError(f"bad day {ctx.partition_key}")
    _log(f"{ctx.partition_key} {start!r} {time.time()!r}")
    return ctx.partition_key


@lg.asset(partitions=DAILY)
def weekly_view(ctx, days):
    return days + "!"


@lg.asset(partitions=lg.StaticPartitions(["eu", "us", "asia"]))
def regions(ctx):
    return ctx.partition_key


@lg.asset
def plain():
    return 1
'''

MODULE = "bf_assets"


@contextmanager
def assets_module(project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """Write the assets into the project as ``bf_assets.py`` and import it; its bodies log
    to ``project/log.txt``."""
    (project / f"{MODULE}.py").write_text(ASSETS)
    monkeypatch.setenv("BACKFILL_LOG", str(project / "log.txt"))
    monkeypatch.syspath_prepend(str(project))
    import importlib

    sys.modules.pop(MODULE, None)
    try:
        yield importlib.import_module(MODULE)
    finally:
        sys.modules.pop(MODULE, None)


def days_from(first: str, n: int) -> list[str]:
    start = dt.date.fromisoformat(first)
    return [(start + dt.timedelta(days=i)).isoformat() for i in range(n)]


def read_log(path: Path) -> list[tuple[str, float, float]]:
    """(partition, start, end) of each body that ran to its end."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        key, start, end = line.split()
        rows.append((key, float(start), float(end)))
    return rows


def executions(rows: Iterable[tuple[str, float, float]]) -> Counter[str]:
    return Counter(key for key, _, _ in rows)


def max_overlap(intervals: Iterable[tuple[float, float]]) -> int:
    """The most intervals open at one instant (an end at the same instant as a start
    closes first)."""
    points = []
    for start, end in intervals:
        points += [(start, 1), (end, -1)]
    points.sort(key=lambda p: (p[0], p[1]))
    most = now = 0
    for _, step in points:
        now += step
        most = max(most, now)
    return most
