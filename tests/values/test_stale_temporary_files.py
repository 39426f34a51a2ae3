"""A writer killed in the middle of a large value leaves its temporary file; resuming the
run removes it, and never a file a live process is still writing."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import legato as lg
from legato.values.value_store import STALE_TMP_S, ValueStore


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_only_the_files_of_dead_or_long_gone_writers_are_removed(tmp_path: Path) -> None:
    folder = tmp_path / "run1"
    folder.mkdir()
    dead = _dead_pid()
    stale = folder / f".step.pickle.{dead}.tmp"
    fresh = folder / f".other.pickle.{dead}.tmp"  # its writer may be elsewhere: not yet
    live = folder / f".mine.pickle.{os.getpid()}.tmp"
    kept = folder / "step.pickle"
    for path in (stale, fresh, live, kept):
        path.write_bytes(b"x" * 10)
    _age(stale, STALE_TMP_S + 5)
    _age(live, STALE_TMP_S + 5)
    _age(kept, 10 * 24 * 3600)
    removed = ValueStore(tmp_path).remove_stale_temporary_files("run1")
    assert removed == [stale]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        p.name for p in (fresh, live, kept))
    assert ValueStore(tmp_path).remove_stale_temporary_files("no-such-run") == []


SCRIPT = textwrap.dedent('''
    import os, signal, sys
    from pathlib import Path
    import legato as lg
    from legato.settings import Settings

    @lg.task
    def big(ctx: lg.StepContext) -> int:
        folder = Path.cwd() / ".legato" / "values" / ctx.run_id  # cwd: the project
        if not (folder / "died-once").exists():
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "died-once").touch()
            # what a SIGKILL in the middle of a large value leaves behind
            (folder / f".big.pickle.{os.getpid()}.tmp").write_bytes(b"x" * 1_000_000)
            print(ctx.run_id, flush=True, file=sys.__stdout__)
            os.kill(os.getpid(), signal.SIGKILL)
        return 1

    @lg.flow
    def heavy() -> int:
        return big()

    if __name__ == "__main__":
        lg.run(heavy, settings=Settings(home=Path.cwd() / ".legato", executor="threads"))
''')


@pytest.mark.slow
def test_resuming_a_run_removes_what_its_killed_writer_left(project: Path) -> None:
    from legato.settings import Settings

    home = project / ".legato"
    script = project / "heavy.py"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    done = subprocess.run([sys.executable, str(script)], capture_output=True,
                          text=True, timeout=60, env=env, cwd=project, check=False)
    assert done.returncode == -9, done.stderr
    run_id = done.stdout.split()[0]
    folder = home / "values" / run_id
    (left,) = folder.glob(".*.tmp")
    _age(left, STALE_TMP_S + 5)
    sys.path.insert(0, str(project))
    try:
        import heavy  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(project))
        sys.modules.pop("heavy", None)
    result = lg.resume(run_id, definitions=heavy.heavy, settings=Settings(home=home))
    assert result.status == "succeeded", result.error
    assert not left.exists()
