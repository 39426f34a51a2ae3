"""``@lg.flow``: forms and plain calls outside a run."""

from __future__ import annotations

import pytest

import legato as lg


def test_bare_decorator() -> None:
    @lg.flow
    def nightly(day: str) -> str:
        """Ingest one day."""
        return day

    assert isinstance(nightly, lg.FlowDefinition)
    assert nightly.name == "nightly"
    assert nightly.description == "Ingest one day."
    assert nightly.location.file == __file__
    assert not nightly.is_async
    assert repr(nightly) == "<flow nightly>"


def test_decorator_with_arguments() -> None:
    @lg.flow(name="nightly_ingest", description="Every night.")
    def nightly() -> None: ...

    assert nightly.name == "nightly_ingest"
    assert nightly.description == "Every night."


def test_async_flow_is_detected() -> None:
    @lg.flow
    async def nightly() -> None: ...

    assert nightly.is_async


def test_calling_a_flow_outside_a_run_calls_its_tasks_plainly() -> None:
    @lg.task
    def square(n: int) -> int:
        return n * n

    @lg.flow
    def squares(n: int) -> list[int]:
        fanned = [f.result() for f in square.map(range(n))]
        return [square(1), square.submit(2).result(), *fanned]

    assert squares(3) == [1, 4, 0, 1, 4]


def test_unknown_flow_option() -> None:
    with pytest.raises(lg.DefinitionError, match="did you mean 'name'"):

        @lg.flow(nme="x")  # type: ignore[call-overload]
        def nightly() -> None: ...


def test_invalid_flow_name() -> None:
    with pytest.raises(lg.DefinitionError, match="flow name 'a b' is not valid"):

        @lg.flow(name="a b")
        def nightly() -> None: ...
