"""The house rules of DESIGN.md and STYLE.md, checked on every run of the suite.

- ``import legato`` stays cheap: it loads no database, web, dataframe or settings library
  and touches no file. (Its time, target < 150 ms, is measured in ``benchmarks/``.)
- The core never imports the CLI, the web or the integrations (import-linter contract in
  ``pyproject.toml``).
- Tests mirror the source: every package of ``src/legato`` that holds code has a folder
  of tests under ``tests/``.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "legato"
TESTS = ROOT / "tests"

HEAVY = (
    "sqlalchemy",
    "alembic",
    "fastapi",
    "starlette",
    "uvicorn",
    "pandas",
    "polars",
    "pyarrow",
    "numpy",
    "pydantic",
    "pydantic_settings",
    "typer",
    "rich",
    "dask",
    "distributed",
    "croniter",
    "dateutil",
)
"""Libraries ``import legato`` must not load: each costs tens of milliseconds or more."""

NOT_MIRRORED = {"public"}
"""Test folders that mirror nothing: the public-API-only suite."""


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}


def test_import_legato_loads_no_heavy_library_and_touches_no_file(tmp_path: Path) -> None:
    script = (
        "import json, sys\n"
        "import legato\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    modules: list[str] = json.loads(done.stdout)
    assert "legato" in modules
    loaded = sorted({m.split(".")[0] for m in modules} & set(HEAVY))
    assert loaded == [], f"`import legato` loads {', '.join(loaded)}; import them lazily"
    assert list(tmp_path.iterdir()) == [], "`import legato` must not create files"


def test_the_lazy_names_load_their_modules_on_first_use() -> None:
    script = (
        "import sys\n"
        "import legato as lg\n"
        "assert 'sqlalchemy' not in sys.modules\n"
        "lg.run, lg.materialize, lg.load, lg.Settings, lg.RunResult\n"
        "assert 'legato.api' in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=_clean_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_import_linter_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    assert lint_imports.exists(), "install the dev extras: pip install -e '.[dev]'"
    done = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=ROOT,
        env=_clean_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _has_code(package: Path) -> bool:
    """Whether any module in the package (at any depth) defines a function or a class."""
    for module in package.rglob("*.py"):
        tree = ast.parse(module.read_text(encoding="utf-8"), filename=str(module))
        if any(
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            for node in ast.walk(tree)
        ):
            return True
    return False


def untested_packages(src: Path, tests: Path) -> list[str]:
    """Top-level packages of ``src`` with code but no ``tests/<package>/**/test_*.py``."""
    missing = []
    for package in sorted(p for p in src.iterdir() if (p / "__init__.py").is_file()):
        if not _has_code(package):
            continue
        mirror = tests / package.name
        if not any(mirror.rglob("test_*.py")):
            missing.append(package.name)
    return missing


def unmirrored_test_folders(src: Path, tests: Path, root: Path) -> list[str]:
    """Test folders named after neither a package or module of ``src`` nor a folder of the
    repository such as ``examples/`` (say, left behind by a rename)."""
    return sorted(
        folder.name
        for folder in tests.iterdir()
        if folder.is_dir()
        and any(folder.rglob("test_*.py"))
        and folder.name not in NOT_MIRRORED
        and not (src / folder.name / "__init__.py").is_file()
        and not (src / f"{folder.name}.py").is_file()
        and not (root / folder.name).is_dir()
    )


def test_tests_mirror_the_source() -> None:
    missing = untested_packages(SRC, TESTS)
    assert missing == [], (
        "packages without tests: "
        + ", ".join(f"src/legato/{name}/ (add tests/{name}/test_*.py)" for name in missing)
    )


def test_mirror_check_finds_what_it_should(tmp_path: Path) -> None:
    src, tests = tmp_path / "src", tmp_path / "tests"
    layout = {
        "src/tested/__init__.py": "",
        "src/tested/core.py": "def f():\n    return 1\n",
        "tests/tested/test_core.py": "def test_f():\n    pass\n",
        "src/untested/__init__.py": '"""Docs."""\n',
        "src/untested/deep/__init__.py": "",
        "src/untested/deep/code.py": "class C:\n    pass\n",
        "src/empty_tests/__init__.py": "async def f():\n    pass\n",
        "tests/empty_tests/conftest.py": "",
        "src/only_docs/__init__.py": '"""Nothing here yet."""\nX = 1\n',
        "src/not_a_package/script.py": "def f():\n    pass\n",
        "src/module.py": "def f():\n    pass\n",
        "tests/module/test_module.py": "",
        "tests/renamed/test_old.py": "",
        "tests/public/test_api.py": "",
        "examples/demo/run.py": "",
        "tests/examples/test_demo.py": "",
    }
    for name, text in layout.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert untested_packages(src, tests) == ["empty_tests", "untested"]
    assert unmirrored_test_folders(src, tests, tmp_path) == ["renamed"]


def test_no_test_folder_is_left_without_its_package() -> None:
    stray = unmirrored_test_folders(SRC, TESTS, ROOT)
    assert stray == [], f"test folders that mirror no package of src/legato: {stray}"
