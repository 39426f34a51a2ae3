"""Store big values in a process that cannot write them: a file-size limit (a full disk)
or an unprivileged user facing a read-only folder.

    python values_child.py ROOT [--fsize BYTES] [--user UID] [--no-imports]

``--no-imports`` refuses every import once the values are made (and privileges dropped),
as for a user who cannot read the virtual environment (a checkout in a private folder).

Prints one JSON object per value kind: the error raised (or none) and the files left.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import sys
import tempfile
from pathlib import Path

import numpy as np
import polars as pl

from legato.errors import ValueStoreError
from legato.values.value_store import ValueStore

VALUES = {
    "json": lambda: ["x" * 1000] * 1000,  # 1 MB of JSON: a file, not the store row
    "pickle": lambda: ("x" * 1_000_000, 1),
    "parquet": lambda: pl.DataFrame({"a": np.random.default_rng(1).random(300_000)}),
}


class _NoImports:
    def find_spec(self, name: str, *_: object) -> None:
        raise ModuleNotFoundError(f"no module named {name!r} (imports are refused here)",
                                  name=name)


def warm_up(values: dict[str, object]) -> None:
    """Store each value once in a private folder while still privileged: whatever the
    writes import lazily (polars' Parquet writer) is imported now, so the unprivileged
    user need not read the virtual environment, wherever the checkout lives."""
    with tempfile.TemporaryDirectory(prefix="legato-warm-") as folder:
        store = ValueStore(Path(folder))
        for kind, value in values.items():
            store.put(f"warm/{kind}", value)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("root", type=Path)
    parser.add_argument("--fsize", type=int)
    parser.add_argument("--user", type=int)
    parser.add_argument("--no-imports", action="store_true")
    args = parser.parse_args()
    if args.fsize is not None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails: EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (args.fsize, args.fsize))
    values = {kind: make() for kind, make in VALUES.items()}  # before dropping privileges
    if args.user is not None or args.no_imports:
        warm_up(values)
    if args.user is not None:
        os.setgroups([])
        os.setgid(args.user)
        os.setuid(args.user)
    if args.no_imports:
        sys.meta_path.insert(0, _NoImports())
    store = ValueStore(args.root)
    for kind, value in values.items():
        result: dict[str, object] = {"kind": kind}
        try:
            stored, _ = store.put(f"run/{kind}", value)
            result["stored"] = stored.uri
        except ValueStoreError as error:
            result.update(error=type(error).__name__, message=str(error), hint=error.hint)
        except Exception as error:
            result.update(error=type(error).__name__, message=str(error))
        result["files"] = sorted(str(p.relative_to(args.root)) for p in args.root.rglob("*")
                                 if p.is_file()) if args.root.exists() else []
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
