"""A process that uses the store the way the engine does, for the tests that need a second
process: started at the same moment as another, killed mid-write, short of disk space, or
run as a user who cannot write the store folder.

    python store_child.py MODE URL [N] [--go FILE] [--fsize BYTES] [--max-pages N]

The last line printed is a JSON object: {"ok": true, ...} or {"error": type, "message": ...,
"hint": ..., "stage": ...}.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import sys
import time
import uuid
from typing import Any

import alembic.command
import alembic.config  # noqa: F401

from legato.store import sql_store
from legato.store.records import Event, LogLine, StoredValue
from legato.store.sql_store import SqlStore

STEPS = ("extract", "transform", "load")


def one_run(store: SqlStore, log_lines: int = 2, payload: int = 10) -> str:
    """A whole run of three steps, each in its own commit: 5 commits, 8 events."""
    run_id = uuid.uuid4().hex
    now = time.time()
    store.commit([Event(run_id, None, None, "run_started", now,
                        {"kind": "flow", "target": "child", "params": {"pid": os.getpid()}})])
    for seq, step in enumerate(STEPS):
        value_id = f"{run_id}/{step}"
        store.defer(Event(run_id, step, 1, "step_started", time.time(),
                          {"name": step, "kind": "task", "seq": seq}))
        text = json.dumps("x" * payload)
        store.commit(
            [Event(run_id, step, 1, "step_succeeded", time.time(), {"value_id": value_id})],
            values=[StoredValue(value_id=value_id, format="json", type="builtins.str",
                                inline=text, uri=None, size=len(text), digest="0" * 64,
                                created_at=time.time())],
            log_lines=[LogLine(run_id, step, 1, time.time(), "stdout", 20, f"line {i}")
                       for i in range(log_lines)],
        )
    store.commit([Event(run_id, None, None, "run_succeeded", time.time(), {})])
    return run_id


def work(args: argparse.Namespace, store: SqlStore, result: dict[str, Any]) -> None:
    if args.mode == "read":  # only the listing, below
        result["read_only"] = store.read_only
    elif args.mode == "open":
        result["run_id"] = one_run(store)
    elif args.mode == "commit-many":
        started = time.perf_counter()
        result["run_ids"] = [one_run(store) for _ in range(args.n)]
        result["seconds"] = time.perf_counter() - started
    elif args.mode == "commit-forever":
        while True:  # until killed; each line names a run whose commits all returned
            print("committed", one_run(store, log_lines=args.n, payload=2000), flush=True)
    else:  # try-write: big commits, to fill a small disk
        result["committed"] = []
        for _ in range(args.n):
            result["committed"].append(one_run(store, log_lines=50, payload=4000))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["open", "read", "commit-many", "commit-forever",
                                         "try-write"])
    parser.add_argument("url")
    parser.add_argument("n", type=int, nargs="?", default=1)
    parser.add_argument("--go", help="wait until this file exists before starting")
    parser.add_argument("--fsize", type=int, help="largest file this process may write")
    parser.add_argument("--max-pages", type=int, help="PRAGMA max_page_count for the writer")
    parser.add_argument("--user", type=int, help="drop root privileges to this user first")
    args = parser.parse_args()

    if args.user is not None:
        # Everything is imported by now: the interpreter itself may live where this user
        # cannot read (e.g. under /root). From here on, the files are touched as that user.
        os.setgroups([])
        os.setgid(args.user)
        os.setuid(args.user)

    if args.fsize is not None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails: EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (args.fsize, args.fsize))
    if args.max_pages is not None:
        configure = sql_store.configure_sqlite

        def small_disk(connection: Any, synchronous: str) -> None:
            configure(connection, synchronous)
            connection.execute(f"PRAGMA max_page_count = {args.max_pages}")

        sql_store.configure_sqlite = small_disk  # type: ignore[assignment]
    if args.go:
        print("ready", flush=True)
        while not os.path.exists(args.go):
            time.sleep(0.001)

    result: dict[str, Any] = {"ok": True}

    def failed(error: Exception, stage: str) -> None:
        if result["ok"]:
            result.update(ok=False, error=type(error).__name__, message=str(error),
                          hint=getattr(error, "hint", None), stage=stage)

    try:
        store = SqlStore(args.url)
    except Exception as error:
        failed(error, "open")
    else:
        stage = "commit"
        try:
            work(args, store, result)
            stage = "read"
            result["runs"] = len(store.list_runs(limit=100_000))
        except Exception as error:
            failed(error, stage)
        try:
            store.close()
        except Exception as error:
            failed(error, "close")
    print(json.dumps(result), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
