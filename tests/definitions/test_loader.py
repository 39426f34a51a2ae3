"""Loading definitions from a module name or a ``.py`` file, and what a broken one gives."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import legato as lg
from legato.definitions.loader import load_definitions, load_from_source

PIPELINE = """\
import legato as lg

@lg.asset
def events():
    return [1, 2, 3]

@lg.asset
def features(events):
    return [e * 2 for e in events]

@lg.task
def fetch(url):
    return url

@lg.flow
def nightly():
    return fetch("x")
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_load_a_file(user_code: Path) -> None:
    path = write(user_code / "pipelines.py", PIPELINE)
    defs = load_definitions("pipelines.py")
    assert set(defs.assets) == {"events", "features"}
    assert set(defs.flows) == {"nightly"}
    assert set(defs.tasks) == {"fetch"}
    assert defs.source == f"file:{path}"
    assert defs.assets["events"].location.file == str(path)
    assert defs.assets["features"]([1]) == [2]


def test_load_a_file_by_absolute_path_from_elsewhere(
    user_code: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(user_code / "sub" / "flows.py", PIPELINE)
    monkeypatch.chdir(user_code.parent)
    assert set(load_definitions(str(path)).flows) == {"nightly"}


def test_a_file_can_import_its_neighbours(user_code: Path) -> None:
    write(user_code / "app" / "helpers.py", "def double(x):\n    return x * 2\n")
    write(
        user_code / "app" / "main.py",
        """\
        import legato as lg
        from helpers import double

        @lg.asset
        def events():
            return double(2)
        """,
    )
    defs = load_definitions("app/main.py")
    assert defs.assets["events"]() == 4


def test_load_a_module_by_dotted_name(user_code: Path) -> None:
    write(user_code / "shop" / "__init__.py", "")
    write(user_code / "shop" / "pipelines.py", PIPELINE)
    defs = load_definitions("shop.pipelines")
    assert set(defs.assets) == {"events", "features"}
    assert defs.source == "module:shop.pipelines"
    assert load_from_source(defs.source).assets.keys() == defs.assets.keys()


def test_a_module_with_defs_uses_them(user_code: Path) -> None:
    write(
        user_code / "explicit.py",
        PIPELINE + "\ndefs = lg.Definitions(assets=[events], flows=[nightly])\n",
    )
    defs = load_definitions("explicit.py")
    assert set(defs.assets) == {"events"}
    assert set(defs.flows) == {"nightly"}
    assert defs.tasks == {}
    assert defs.source is not None and defs.source.startswith("file:")


def test_definitions_imported_from_another_module_are_gathered(user_code: Path) -> None:
    write(user_code / "base.py", PIPELINE)
    write(
        user_code / "more.py",
        """\
        import legato as lg
        from base import events, features

        @lg.asset
        def report(features):
            return len(features)
        """,
    )
    defs = load_definitions("more.py")
    assert set(defs.assets) == {"events", "features", "report"}


def test_invalid_definitions_in_a_module_fail_on_load(user_code: Path) -> None:
    path = write(
        user_code / "broken_graph.py",
        """\
        import legato as lg

        @lg.asset
        def features(event):
            return event
        """,
    )
    with pytest.raises(lg.DefinitionError) as caught:
        load_definitions("broken_graph.py")
    (problem,) = caught.value.problems
    assert "asset 'features' depends on 'event', which is not defined" in problem.message
    assert (problem.file, problem.line) == (str(path), 3)


def test_a_definition_error_raised_while_importing_is_not_wrapped(user_code: Path) -> None:
    path = write(
        user_code / "typo.py",
        """\
        import legato as lg


        @lg.asset(retires=3)
        def events():
            return 1
        """,
    )
    with pytest.raises(lg.DefinitionError) as caught:
        load_definitions("typo.py")
    (problem,) = caught.value.problems
    assert problem.message == "@lg.asset got an unknown option 'retires'; did you mean 'retries'?"
    assert (problem.file, problem.line) == (str(path), 4)


def test_a_module_that_raises_on_import(user_code: Path) -> None:
    path = write(
        user_code / "raises.py",
        """\
        import legato as lg

        def connect():
            raise ConnectionError("warehouse is down")

        CONNECTION = connect()
        """,
    )
    with pytest.raises(lg.DefinitionError) as caught:
        load_definitions("raises.py")
    error = caught.value
    (problem,) = error.problems
    assert problem.message == (
        f"cannot import {path}: ConnectionError: warehouse is down"
    )
    assert (problem.file, problem.line) == (str(path), 4)
    assert error.hint
    assert isinstance(error.__cause__, ConnectionError)
    assert error.__cause__.__traceback__ is not None


def test_a_package_module_that_raises_on_import(user_code: Path) -> None:
    write(user_code / "pkg_raises" / "__init__.py", "")
    path = write(user_code / "pkg_raises" / "flows.py", "x = 1\nraise KeyError('region')\n")
    with pytest.raises(lg.DefinitionError) as caught:
        load_definitions("pkg_raises.flows")
    (problem,) = caught.value.problems
    assert "cannot import pkg_raises.flows: KeyError: 'region'" in problem.message
    assert (problem.file, problem.line) == (str(path), 2)
    assert isinstance(caught.value.__cause__, KeyError)


def test_a_module_whose_own_import_is_missing(user_code: Path) -> None:
    write(user_code / "pipe_dream.py", "import pipe\n")
    with pytest.raises(lg.DefinitionError) as caught:
        load_definitions("pipe_dream")
    message = str(caught.value)
    assert "cannot import pipe_dream: ModuleNotFoundError: No module named 'pipe'" in message
    assert isinstance(caught.value.__cause__, ModuleNotFoundError)


def test_a_module_calling_sys_exit_on_import(user_code: Path) -> None:
    write(user_code / "exits.py", "import sys\nsys.exit(2)\n")
    with pytest.raises(lg.DefinitionError, match=r"cannot import .*exits\.py: SystemExit: 2"):
        load_definitions("exits.py")


def test_a_syntax_error_names_file_and_line(user_code: Path) -> None:
    path = write(user_code / "bad_syntax.py", "import legato as lg\n\ndef f(:\n    pass\n")
    with pytest.raises(lg.DefinitionError) as caught:
        load_definitions("bad_syntax.py")
    (problem,) = caught.value.problems
    assert "SyntaxError" in problem.message
    assert (problem.file, problem.line) == (str(path), 3)
    assert caught.value.hint == "fix the syntax error and run again"
    assert isinstance(caught.value.__cause__, SyntaxError)


def test_a_syntax_error_in_a_module(user_code: Path) -> None:
    write(user_code / "syn" / "__init__.py", "")
    path = write(user_code / "syn" / "flows.py", "x = (\n")
    with pytest.raises(lg.DefinitionError) as caught:
        load_definitions("syn.flows")
    (problem,) = caught.value.problems
    assert (problem.file, problem.line) == (str(path), 1)


def test_a_failed_import_can_be_retried_after_the_fix(user_code: Path) -> None:
    path = write(user_code / "retry_me.py", "raise RuntimeError('not yet')\n")
    with pytest.raises(lg.DefinitionError):
        load_definitions("retry_me.py")
    path.write_text(PIPELINE)
    assert set(load_definitions("retry_me.py").assets) == {"events", "features"}


def test_a_missing_file(user_code: Path) -> None:
    with pytest.raises(lg.DefinitionError, match=r"no such file: nowhere\.py") as caught:
        load_definitions("nowhere.py")
    assert caught.value.hint


def test_a_missing_module(user_code: Path) -> None:
    with pytest.raises(lg.DefinitionError, match=r"no module named 'no_such_pkg\.flows'") as caught:
        load_definitions("no_such_pkg.flows")
    assert caught.value.hint
    assert caught.value.__cause__ is None


def test_a_missing_submodule_of_an_existing_package(user_code: Path) -> None:
    write(user_code / "half" / "__init__.py", "")
    with pytest.raises(lg.DefinitionError, match=r"no module named 'half\.flows'"):
        load_definitions("half.flows")


def test_lg_load_is_the_public_entry(user_code: Path) -> None:
    write(user_code / "public_entry.py", PIPELINE)
    assert set(lg.load("public_entry.py").flows) == {"nightly"}


def test_invalid_defs_in_a_module_are_reported_as_such(user_code: Path) -> None:
    path = write(
        user_code / "explicit_broken.py",
        """\
        import legato as lg

        @lg.asset
        def features(evnts):
            return evnts

        defs = lg.Definitions(assets=[features])
        """,
    )
    with pytest.raises(lg.DefinitionError) as caught:
        load_definitions("explicit_broken.py")
    (problem,) = caught.value.problems
    assert problem.message == "asset 'features' depends on 'evnts', which is not defined"
    assert (problem.file, problem.line) == (str(path), 3)


def test_a_project_inside_a_folder_named_legato(user_code: Path) -> None:
    path = write(user_code / "legato" / "flows.py", "import json\n\njson.loads('{')\n")
    with pytest.raises(lg.DefinitionError) as caught:
        load_definitions(str(path))
    (problem,) = caught.value.problems
    assert (problem.file, problem.line) == (str(path), 3)
    assert "JSONDecodeError" in problem.message


ETL = """\
import legato as lg

WAREHOUSE = "the real warehouse"

@lg.task
def load_rows():
    return f"wrote 3 rows to {WAREHOUSE}"

@lg.flow
def etl():
    return load_rows()
"""


def test_loading_a_file_already_imported_reuses_its_module(
    user_code: Path, monkeypatch: pytest.MonkeyPatch, settings: object
) -> None:
    write(user_code / "etl_tested.py", ETL)
    monkeypatch.syspath_prepend(str(user_code))
    import etl_tested  # type: ignore[import-not-found]  # as a test of the project would

    monkeypatch.setattr(etl_tested, "WAREHOUSE", "a test warehouse")
    defs = lg.load("etl_tested.py")
    assert defs.flows["etl"] is etl_tested.etl
    result = lg.run(defs.flows["etl"], settings=settings)  # type: ignore[arg-type]
    assert result.output == "wrote 3 rows to a test warehouse"


def test_a_module_of_the_same_name_from_another_folder_is_not_reused(
    user_code: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(user_code / "one" / "same_name.py", PIPELINE)
    other = "import legato as lg\n\n@lg.asset\ndef others():\n    return 1\n"
    write(user_code / "two" / "same_name.py", other)
    monkeypatch.syspath_prepend(str(user_code / "one"))
    import same_name  # type: ignore[import-not-found]  # noqa: F401

    assert set(load_definitions("two/same_name.py").assets) == {"others"}
    assert set(load_definitions("one/same_name.py").assets) == {"events", "features"}
