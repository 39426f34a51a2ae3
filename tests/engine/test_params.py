"""``lg.run``'s parameters must fit the flow; an asset is materialized, not run."""

from __future__ import annotations

from typing import Any

import pytest

import legato as lg


@lg.task
def greet(name: str, punctuation: str = "!") -> str:
    return f"hello {name}{punctuation}"


@lg.flow
def greeting(name: str, punctuation: str = "!") -> str:
    return greet(name, punctuation)


@lg.asset
def an_asset() -> int:
    return 1


@pytest.mark.parametrize("params", [{}, {"nam": "x"}, {"name": "x", "extra": 1}])
def test_parameters_that_do_not_fit_raise(params: dict[str, Any], settings: Any,
                                          read_store: Any) -> None:
    with pytest.raises(lg.ParamsError, match="flow 'greeting' cannot take these parameters") \
            as caught:
        lg.run(greeting, settings=settings, **params)
    assert caught.value.hint == "pass each parameter of the flow by name"
    assert read_store(settings).list_runs() == []  # nothing was started


def test_parameters_that_fit_run(settings: Any, read_store: Any) -> None:
    assert lg.run(greeting, settings=settings, name="ada").output == "hello ada!"
    result = lg.run(greeting, settings=settings, name="ada", punctuation="?")
    assert result.output == "hello ada?"
    assert read_store(settings).get_run(result.run_id).params == {
        "name": "ada", "punctuation": "?"}


def test_a_task_checks_its_own_signature(settings: Any) -> None:
    with pytest.raises(lg.ParamsError, match="cannot take these parameters"):
        lg.run(greet, settings=settings, nobody="x")
    assert lg.run(greet, settings=settings, name="bob").output == "hello bob!"


def test_running_an_asset_says_to_materialize_it(settings: Any) -> None:
    with pytest.raises(lg.ParamsError, match="'an_asset' is an asset: materialize it") \
            as caught:
        lg.run(an_asset, settings=settings)  # type: ignore[call-overload]
    assert caught.value.hint is not None
    assert "lg.materialize([an_asset])" in caught.value.hint
    assert "legato materialize an_asset" in caught.value.hint


def test_running_something_else_is_refused(settings: Any) -> None:
    with pytest.raises(lg.ParamsError, match="takes a flow or a task"):
        lg.run(print, settings=settings)  # type: ignore[call-overload]
