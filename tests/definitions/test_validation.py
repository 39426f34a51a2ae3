"""Mistakes in definitions raise DefinitionError naming the file and line that made them."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import pytest

import legato as lg
from legato.errors import Problem

DECORATORS: dict[str, Callable[..., Any]] = {"asset": lg.asset, "task": lg.task, "flow": lg.flow}


def _here() -> int:
    frame = inspect.currentframe()
    assert frame is not None and frame.f_back is not None
    return frame.f_back.f_lineno


def _only_problem(error: lg.DefinitionError) -> Problem:
    assert len(error.problems) == 1, error.problems
    return error.problems[0]


def test_unknown_option_suggests_the_right_one_at_the_callers_line() -> None:
    with pytest.raises(lg.DefinitionError) as caught:
        line = _here() + 1
        @lg.asset(retires=3)  # type: ignore[call-overload]
        def events() -> None: ...

    problem = _only_problem(caught.value)
    assert "@lg.asset got an unknown option 'retires'; did you mean 'retries'?" in problem.message
    assert (problem.file, problem.line) == (__file__, line)
    assert str(caught.value).startswith(f"{__file__}:{line}: ")


@pytest.mark.parametrize(
    ("kind", "typo", "right"),
    [("asset", "timout", "timeout"), ("task", "retrys", "retries"), ("flow", "nam", "name")],
)
def test_unknown_option_on_each_decorator(kind: str, typo: str, right: str) -> None:
    with pytest.raises(lg.DefinitionError) as caught:
        line = _here() + 1
        DECORATORS[kind](**{typo: 1})

    problem = _only_problem(caught.value)
    assert f"@lg.{kind} got an unknown option '{typo}'; did you mean '{right}'?" in str(problem)
    assert (problem.file, problem.line) == (__file__, line)


def test_an_option_far_from_any_known_one_gets_no_suggestion() -> None:
    with pytest.raises(lg.DefinitionError) as caught:
        lg.asset(zzzzzz=1)
    assert "unknown option 'zzzzzz'" in str(caught.value)
    assert "did you mean" not in str(caught.value)


def test_several_unknown_options_are_all_reported() -> None:
    with pytest.raises(lg.DefinitionError) as caught:
        lg.task(retires=1, timout=2)
    assert len(caught.value.problems) == 2


@pytest.mark.parametrize("kind", ["asset", "task", "flow"])
@pytest.mark.parametrize("value", [42, "events", [1, 2]])
def test_non_callable_names_the_callers_line(kind: str, value: object) -> None:
    with pytest.raises(lg.DefinitionError) as caught:
        line = _here() + 1
        DECORATORS[kind](value)

    problem = _only_problem(caught.value)
    assert f"@lg.{kind} must decorate a function" in problem.message
    assert repr(value) in problem.message
    assert (problem.file, problem.line) == (__file__, line)


def test_non_callable_through_the_decorator_with_arguments() -> None:
    decorate = lg.asset(retries=2)
    with pytest.raises(lg.DefinitionError) as caught:
        line = _here() + 1
        decorate(42)
    assert (caught.value.problems[0].file, caught.value.problems[0].line) == (__file__, line)


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("asset", {"timeout": "soon"}, "timeout 'soon' is not a duration"),
        ("asset", {"timeout": 0}, "timeout must be positive"),
        ("asset", {"retries": -1}, "retries must be a whole number >= 0"),
        ("asset", {"retries": "3"}, "retries must be"),
        ("asset", {"tags": "gpu"}, "tags must be a list of strings"),
        ("asset", {"tags": ["ok", 3]}, "tags must be non-empty strings"),
        ("asset", {"io": "csv"}, "io must be one of auto, json, parquet, pickle"),
        ("asset", {"fallback": "previous"}, "fallback must be lg.last_good or a function"),
        ("asset", {"cache": True}, "cache must be a policy"),
        ("asset", {"code_version": 3}, "code_version must be a string"),
        ("task", {"timeout": -1}, "must not be negative"),
        ("task", {"timeout": "-1s"}, "timeout '-1s' is not a duration"),
        ("task", {"fallback": lg.last_good}, "fallback=lg.last_good is for assets"),
    ],
)
def test_bad_option_values_name_the_definition_file_and_line(
    kind: str, options: dict[str, object], message: str
) -> None:
    with pytest.raises(lg.DefinitionError) as caught:
        line = _here() + 1
        @DECORATORS[kind](**options)
        def work() -> None: ...

    problem = _only_problem(caught.value)
    assert message in problem.message
    assert f"{kind} 'work'" in problem.message
    assert (problem.file, problem.line) == (__file__, line)


def test_a_bad_retry_policy_names_the_line_that_built_it() -> None:
    with pytest.raises(lg.DefinitionError) as caught:
        line = _here() + 1
        @lg.asset(retries=lg.Retry(-1))
        def events() -> None: ...

    problem = _only_problem(caught.value)
    assert "Retry(retries) must be 0 or more" in problem.message
    assert (problem.file, problem.line) == (__file__, line)


def test_definition_errors_are_legato_errors() -> None:
    assert issubclass(lg.DefinitionError, lg.LegatoError)
    with pytest.raises(lg.LegatoError):
        lg.asset(42)  # type: ignore[call-overload]


def test_a_callable_without_a_name_needs_an_explicit_one() -> None:
    def add(a: int, b: int) -> int:
        return a + b

    with pytest.raises(lg.DefinitionError, match="give it a name") as caught:
        line = _here() + 1
        lg.task(functools.partial(add, 1))
    assert caught.value.problems[0].line == line

    named = lg.task(name="add_one")(functools.partial(add, 1))
    assert named.name == "add_one"
    assert named(2) == 3
    assert named.location.file == __file__


def test_an_asset_given_a_name_is_told_to_use_key() -> None:
    """Not "unknown option 'name'; did you mean 'name'?": an asset is named by its key."""
    with pytest.raises(lg.DefinitionError) as caught:
        lg.asset(name="sales")  # type: ignore[call-overload]
    message = str(_only_problem(caught.value))
    assert "@lg.asset got an unknown option 'name': an asset is named by its key" in message
    assert "key='daily_sales'" in message
    assert "did you mean 'name'" not in message
