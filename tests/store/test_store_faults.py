"""Faults: a read-only or full store, two processes writing at once, a process killed while
committing. Each must end in a clear StoreError (or no error at all) with nothing corrupted:
the database passes ``PRAGMA integrity_check`` and every committed row is intact.

Faults that need a second process (another user, a file-size limit, SIGKILL) run
``store_child.py`` in a subprocess. Tests run as root in CI, and root ignores file
permissions: in the read-only cases the child then drops to the unprivileged user 65534 once
Python is loaded (the interpreter itself may live under /root, which that user cannot read).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from store_kit import actual_steps, all_events, expected_steps, per_run, run_started

from legato.errors import StoreError
from legato.store import schema
from legato.store.records import StepStatus
from legato.store.sql_store import SqlStore

CHILD = Path(__file__).with_name("store_child.py")
NOBODY = 65534
AS_ROOT = os.geteuid() == 0


def child(*args: str, unprivileged: bool = False, timeout: float = 120) -> dict[str, Any]:
    """Run store_child.py and return the JSON object it prints last."""
    if unprivileged and AS_ROOT:
        args = (*args, "--user", str(NOBODY))
    done = subprocess.run(
        [sys.executable, str(CHILD), *args], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}, check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def integrity(path: Path) -> str:
    connection = sqlite3.connect(path)
    try:
        return ", ".join(str(row[0]) for row in connection.execute("PRAGMA integrity_check"))
    finally:
        connection.close()


def check_consistent(store: SqlStore) -> list[str]:
    """Every run's projections match its events; returns the ids of all runs."""
    run_ids = [r.run_id for r in store.list_runs(limit=1_000_000)]
    assert actual_steps(store, run_ids) == expected_steps(all_events(store))
    return run_ids


def check_whole_runs(store: SqlStore, run_ids: list[str], log_lines: int) -> None:
    """Runs of store_child.one_run whose commits all returned are entirely there: the run
    and its three steps succeeded, 8 events, each step's value and log lines."""
    runs = set(run_ids)
    for table, where, each in [
        (schema.runs, {"status": "succeeded"}, 1),
        (schema.steps, {"status": "succeeded"}, 3),
        (schema.events, {}, 8),
        (schema.logs, {}, 3 * log_lines),
    ]:
        counted = per_run(store, table, **where)
        assert {r: counted.get(r, 0) for r in runs} == dict.fromkeys(runs, each), table.name
    values = Counter(v.split("/", 1)[0] for v in value_ids(store))
    assert {r: values[r] for r in runs} == dict.fromkeys(runs, 3), "stored_values"


def value_ids(store: SqlStore) -> list[str]:
    with store.engine.connect() as connection:
        return list(connection.execute(select(schema.stored_values.c.value_id)).scalars())


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder that the unprivileged child may enter (pytest's tmp_path is private)."""
    path = Path(tempfile.mkdtemp(prefix="legato-faults-"))
    path.chmod(0o755)
    yield path
    for folder, _, _ in os.walk(path):
        os.chmod(folder, 0o755)
    shutil.rmtree(path)


def give_to_child(path: Path) -> None:
    """Let the unprivileged child own the store, as a user owns their project."""
    if AS_ROOT:
        for folder, _, files in os.walk(path):
            os.chown(folder, NOBODY, NOBODY)
            for name in files:
                os.chown(Path(folder) / name, NOBODY, NOBODY)


def make_store(folder: Path, runs: int = 3) -> tuple[str, list[str]]:
    """A store with a few committed runs, closed (its WAL checkpointed away)."""
    url = f"sqlite:///{folder / 'legato.db'}"
    with SqlStore(url) as store:
        run_ids = [f"{i:032x}" for i in range(runs)]
        for at, run_id in enumerate(run_ids):
            store.commit([run_started(run_id, float(at))])
    return url, run_ids


def check_intact(folder: Path, run_ids: list[str]) -> SqlStore:
    assert integrity(folder / "legato.db") == "ok"
    store = SqlStore(f"sqlite:///{folder / 'legato.db'}")
    assert [store.get_run(r).run_id for r in run_ids] == run_ids
    check_consistent(store)
    return store


# -- a read-only store folder --------------------------------------------------------------


def test_a_new_store_in_a_read_only_folder(shared_dir: Path) -> None:
    folder = shared_dir / "project"
    folder.mkdir()
    give_to_child(folder)
    folder.chmod(0o555)
    result = child("open", f"sqlite:///{folder / 'legato.db'}", unprivileged=True)
    assert result["ok"] is False and result["error"] == "StoreError", result
    assert result["stage"] == "open"
    assert result["message"].startswith(f"cannot write the legato store at {folder}")
    assert result["hint"].startswith("make the folder")
    assert list(folder.iterdir()) == []


def test_a_store_folder_that_cannot_be_created(shared_dir: Path) -> None:
    shared_dir.chmod(0o555)
    result = child("open", f"sqlite:///{shared_dir / 'home' / 'legato.db'}", unprivileged=True)
    assert result["error"] == "StoreError", result
    assert result["message"] == (f"cannot create the store folder {shared_dir / 'home'}: "
                                 "Permission denied")
    assert result["hint"].startswith("make the folder")


def test_an_existing_store_in_a_folder_made_read_only(shared_dir: Path) -> None:
    """It can be read (``legato runs``), without the migration lock file; only a write
    fails, clearly."""
    folder = shared_dir / "project"
    folder.mkdir()
    url, run_ids = make_store(folder)
    (folder / "legato.db.migrate-lock").unlink()  # a read-only copy need not have one
    give_to_child(folder)
    folder.chmod(0o555)
    result = child("read", url, unprivileged=True)
    assert result == {"ok": True, "read_only": True, "runs": len(run_ids)}, result
    result = child("open", url, unprivileged=True)
    assert result["ok"] is False and result["error"] == "StoreError", result
    assert result["stage"] == "commit"
    assert result["message"].startswith(f"cannot write the legato store at {folder}")
    assert result["hint"].startswith("make the folder")
    assert sorted(p.name for p in folder.iterdir()) == ["legato.db"]
    folder.chmod(0o755)
    with check_intact(folder, run_ids) as store:
        assert len(store.list_runs()) == len(run_ids)


def test_a_store_in_a_read_only_folder_that_needs_migrating(shared_dir: Path) -> None:
    folder = shared_dir / "project"
    folder.mkdir()
    url, _ = make_store(folder)
    connection = sqlite3.connect(folder / "legato.db")
    with connection:
        connection.execute("UPDATE alembic_version SET version_num = '0001'")
    connection.close()
    give_to_child(folder)
    folder.chmod(0o555)
    result = child("read", url, unprivileged=True)
    assert result["ok"] is False and result["stage"] == "open", result
    assert result["message"] == (f"cannot write the legato store at {folder / 'legato.db'}: "
                                 "its folder is read-only, and the store needs migrating "
                                 "from '0001'")


def test_a_read_only_database_file(shared_dir: Path) -> None:
    folder = shared_dir / "project"
    folder.mkdir()
    url, run_ids = make_store(folder)
    give_to_child(folder)
    (folder / "legato.db").chmod(0o444)
    result = child("open", url, unprivileged=True)
    assert result["ok"] is False and result["error"] == "StoreError", result
    assert result["message"].startswith(f"cannot write the legato store at {folder}")
    assert "readonly" in result["message"] or "read-only" in result["message"]
    (folder / "legato.db").chmod(0o644)
    with check_intact(folder, run_ids) as store:
        assert len(store.list_runs()) == len(run_ids)


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "legato.db"
    path.write_bytes(b"these are my notes, not a database\n" * 200)
    with pytest.raises(StoreError) as refused:
        SqlStore(f"sqlite:///{path}")
    assert str(refused.value) == (f"the file at {path} is not a legato store, or it is "
                                  "damaged: file is not a database")
    assert "LEGATO_DATABASE_URL" in (refused.value.hint or "")
    assert path.read_bytes() == b"these are my notes, not a database\n" * 200


# -- a full disk -----------------------------------------------------------------------------


def test_a_full_database(tmp_path: Path) -> None:
    """SQLite reaches its size limit (PRAGMA max_page_count) part way through the runs."""
    url, run_ids = make_store(tmp_path)
    pages = sqlite3.connect(tmp_path / "legato.db").execute("PRAGMA page_count").fetchone()[0]
    result = child("try-write", url, "1000", "--max-pages", str(pages + 40))
    assert result["ok"] is False and result["error"] == "StoreError", result
    assert result["message"].startswith(f"the legato store at {tmp_path / 'legato.db'} is full")
    assert "free some disk space" in result["hint"]
    assert 0 < len(result["committed"]) < 1000
    with check_intact(tmp_path, run_ids) as store:
        check_whole_runs(store, result["committed"], log_lines=50)
        # Once there is room again, the store takes new runs.
        store.commit([run_started("f" * 32, time.time())])


def test_a_full_disk_under_the_database(tmp_path: Path) -> None:
    """The file system refuses to grow the files (RLIMIT_FSIZE: writes fail with EFBIG)."""
    url, run_ids = make_store(tmp_path)
    size = (tmp_path / "legato.db").stat().st_size
    result = child("try-write", url, "1000", "--fsize", str(size + 400_000))
    assert result["ok"] is False and result["error"] == "StoreError", result
    assert result["message"] == (f"cannot write the legato store at {tmp_path / 'legato.db'}: "
                                 "disk I/O error")
    assert "the disk may be full" in result["hint"]
    assert 0 < len(result["committed"]) < 1000
    with check_intact(tmp_path, run_ids) as store:
        check_whole_runs(store, result["committed"], log_lines=50)


# -- two writers -------------------------------------------------------------------------------


def test_two_processes_commit_thousands_of_events_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'legato.db'}"
    go = tmp_path / "go"
    runs_each = 400  # 5 commits and 8 events per run: 2 x 2,000 commits, 6,400 events
    procs = [subprocess.Popen([sys.executable, str(CHILD), "commit-many", url, str(runs_each),
                               "--go", str(go)], stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        go.touch()
        results = [json.loads(proc.communicate(timeout=120)[0].strip().splitlines()[-1])
                   for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert all(r["ok"] for r in results), results
    assert integrity(tmp_path / "legato.db") == "ok"
    with SqlStore(url) as store:
        run_ids = check_consistent(store)
        assert sorted(run_ids) == sorted(results[0]["run_ids"] + results[1]["run_ids"])
        assert len(all_events(store)) == 2 * runs_each * 8
        check_whole_runs(store, run_ids, log_lines=2)
    seconds = max(r["seconds"] for r in results)
    print(f"2 writers, {2 * runs_each * 5} commits: {seconds:.2f} s, "
          f"{seconds / (runs_each * 5) * 1e3:.3f} ms per commit per writer")


# -- a process killed while it commits ---------------------------------------------------------


def test_a_process_killed_while_committing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'legato.db'}"
    rng = random.Random()
    committed: list[str] = []
    log_lines = 200  # large transactions, so that the kill often lands inside one
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, str(CHILD), "commit-forever", url,
                                 str(log_lines)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        try:
            target = rng.randint(5, 30)
            seen = 0
            while seen < target:
                line = proc.stdout.readline()
                assert line.startswith("committed "), line
                committed.append(line.split()[1])
                seen += 1
            time.sleep(rng.uniform(0, 0.01))
            os.kill(proc.pid, signal.SIGKILL)
            # lines written before the kill name runs whose last commit returned
            committed += [line.split()[1] for line in proc.stdout if line.startswith("committed")]
        finally:
            proc.kill()
            proc.wait()
            proc.stdout.close()
        assert proc.returncode == -signal.SIGKILL

        assert integrity(tmp_path / "legato.db") == "ok"
        with SqlStore(url) as store:
            run_ids = check_consistent(store)
            assert set(committed) <= set(run_ids)
            check_whole_runs(store, committed, log_lines=log_lines)
            # In any run, each step's value and log lines came with its success, or not at all.
            succeeded = {(s.run_id, s.step_key) for r in run_ids for s in store.get_steps(r)
                         if s.status == StepStatus.SUCCEEDED}
            assert {tuple(v.split("/", 1)) for v in value_ids(store)} == succeeded
            logged = per_run(store, schema.logs)
            for run_id in run_ids:
                steps_done = sum(1 for r, _ in succeeded if r == run_id)
                assert logged.get(run_id, 0) == steps_done * log_lines
    assert len(set(committed)) == len(committed) >= 15


def test_ctrl_c_as_a_transaction_begins_leaves_no_lock_behind(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A KeyboardInterrupt raised just as BEGIN returns (it had waited for the write lock)
    rolls the transaction back: other writers are not blocked until the process exits."""
    from legato.store import writer

    url = f"sqlite:///{tmp_path / 'legato.db'}"
    real = writer.begin_write

    def interrupted(cursor: Any, dialect: str) -> None:
        real(cursor, dialect)
        raise KeyboardInterrupt

    with SqlStore(url) as store:
        monkeypatch.setattr(writer, "begin_write", interrupted)
        with pytest.raises(KeyboardInterrupt):
            store.commit([run_started("r1", 1.0)])
        monkeypatch.setattr(writer, "begin_write", real)
        other = sqlite3.connect(tmp_path / "legato.db", timeout=0.5, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # "database is locked" if the lock was kept
            other.execute("ROLLBACK")
        finally:
            other.close()
        store.commit([run_started("r1", 1.0)])  # and this store still writes
        assert [r.run_id for r in store.list_runs()] == ["r1"]
