"""The value store on a full disk and in a read-only folder: a ValueStoreError that names
the file and the fix, and no file left behind (neither torn under the final name nor
temporary)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHILD = Path(__file__).with_name("values_child.py")
NOBODY = 65534


def put_in_child(root: Path, *args: str) -> dict[str, dict[str, Any]]:
    done = subprocess.run([sys.executable, str(CHILD), str(root), *args], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    return {r["kind"]: r for r in results}


def test_a_full_disk_leaves_no_file(tmp_path: Path) -> None:
    """RLIMIT_FSIZE makes every write past 100 kB fail with EFBIG, as a full disk would."""
    root = tmp_path / "values"
    results = put_in_child(root, "--fsize", "100000")
    assert set(results) == {"json", "pickle", "parquet"}
    for kind, result in results.items():
        suffix = {"json": ".json", "pickle": ".pickle", "parquet": ".parquet"}[kind]
        assert result.get("error") == "ValueStoreError", result
        assert result["message"].startswith(f"cannot write value file {root}/run/{kind}"
                                            f"{suffix}: "), result
        assert "File too large" in result["message"]
        assert "free some space" in result["hint"]
        assert result["files"] == [], f"{kind} left {result['files']}"


@pytest.fixture
def read_only_root() -> Iterator[Path]:
    """A value folder that the child cannot write (as user 65534 when running as root)."""
    base = Path(tempfile.mkdtemp(prefix="legato-values-"))
    base.chmod(0o755)
    root = base / "values"
    (root / "run").mkdir(parents=True)
    if os.geteuid() == 0:
        for path in (root, root / "run"):
            os.chown(path, NOBODY, NOBODY)
    (root / "run").chmod(0o555)
    yield root
    (root / "run").chmod(0o755)
    shutil.rmtree(base)


def test_a_read_only_value_folder(read_only_root: Path) -> None:
    """Wherever the checkout lives: the child refuses imports once unprivileged, as a user
    who cannot read a virtual environment in a private folder would."""
    args = ("--user", str(NOBODY)) if os.geteuid() == 0 else ()
    args = (*args, "--no-imports")
    results = put_in_child(read_only_root, *args)
    for kind, result in results.items():
        assert result.get("error") == "ValueStoreError", result
        assert result["message"].startswith(f"cannot write value file {read_only_root}/run/"
                                            f"{kind}"), result
        assert "Permission denied" in result["message"]
        assert "make the value folder writable" in result["hint"]
        assert result["files"] == []


def test_an_import_failure_is_not_called_a_write_failure(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer whose lazily imported module cannot be loaded (a venv this user cannot read)
    is reported as a missing module, not as a folder to make writable."""
    import polars as pl

    from legato.errors import ValueStoreError
    from legato.values import value_store

    def broken(*_: object) -> None:
        raise ModuleNotFoundError("No module named 'polars._utils.parquet'",
                                  name="polars._utils.parquet")

    monkeypatch.setattr(value_store, "write_parquet", broken)
    store = value_store.ValueStore(tmp_path / "values")
    with pytest.raises(ValueStoreError) as caught:
        store.put("run/frame", pl.DataFrame({"a": [1, 2]}))
    assert "cannot be imported" in str(caught.value)
    assert "polars._utils.parquet" in str(caught.value)
    assert "cannot write value file" not in str(caught.value)
    assert caught.value.hint is not None
    assert "import polars._utils.parquet" in caught.value.hint
    assert "writable" not in caught.value.hint
    assert list((tmp_path / "values").rglob("*.tmp*")) == []
