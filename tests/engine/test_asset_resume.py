"""Resuming an asset run: it keeps the upstream materializations it started with (not newer
ones made meanwhile), and its assets whose end was committed are not run again."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import legato as lg
from legato.store.sql_store import SqlStore

ASSETS = '''
import os
import legato as lg


@lg.asset
def prices(ctx):
    return ctx.params.get("prices", [1, 2, 3])


@lg.asset
def total(ctx, prices):
    with open(os.environ["LEDGER"], "a") as ledger:
        ledger.write(f"total {os.getpid()}\\n")
    return sum(prices)


@lg.asset
def report(ctx, total):
    return f"total={total}"
'''


@pytest.fixture
def assets(project: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    (project / "resume_assets.py").write_text(ASSETS)
    monkeypatch.setenv("LEDGER", str(project / "ledger.txt"))
    monkeypatch.syspath_prepend(str(project))
    import resume_assets

    yield resume_assets
    sys.modules.pop("resume_assets", None)


def test_a_resumed_asset_run_keeps_the_inputs_it_started_with(project: Path,
                                                              assets: Any) -> None:
    settings = lg.Settings(home=project / ".legato")
    defs = lg.Definitions(assets=[assets.prices, assets.total, assets.report])
    first = lg.materialize(defs, ["prices"], params={"prices": [1, 2, 3]}, settings=settings)
    assert first.ok
    script = ("import legato as lg, resume_assets as a\n"
              "defs = lg.Definitions(assets=[a.prices, a.total, a.report])\n"
              "lg.materialize(defs, ['total', 'report'], settings=lg.Settings(home='.legato'))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    env.update(LEGATO_FAULT="after-commit:1", LEDGER=str(project / "ledger.txt"))
    done = subprocess.run([sys.executable, "-c", script], cwd=project, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == -9, done.stderr  # killed once 'total' was committed
    with SqlStore(settings.store_url) as store:
        crashed = store.list_runs(status="running")[0]
    newer = lg.materialize(defs, ["prices"], params={"prices": [100]}, settings=settings)
    assert newer.ok
    resumed = lg.resume(crashed.run_id, settings=settings)
    assert resumed.ok and resumed.run_id == crashed.run_id
    assert resumed.value("report") == "total=6"  # from the prices it started with
    assert (project / "ledger.txt").read_text().count("total") == 1  # not run again
    with SqlStore(settings.store_url) as store:
        report = store.latest_materialization("report")
        total = store.latest_materialization("total")
    assert report is not None and total is not None
    assert report.upstream == {"total": f"{crashed.run_id}/total"}
    assert total.upstream == {"prices": f"{first.run_id}/prices"}
    again = lg.materialize(defs, ["total"], settings=settings)
    assert again.value("total") == 100  # a new run takes the newest
