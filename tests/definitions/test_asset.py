"""``@lg.asset``: forms, upstream from parameters, options, ctx, async, plain calls."""

from __future__ import annotations

import inspect

import pytest

import legato as lg


def test_bare_decorator_uses_the_function_name_and_docstring() -> None:
    @lg.asset
    def events() -> list[int]:
        """Raw events."""
        return [1, 2]

    assert isinstance(events, lg.AssetDefinition)
    assert events.key == "events"
    assert events.description == "Raw events."
    assert events.inputs == ()
    assert events.upstream == ()
    assert events.options.retry == lg.Retry(0)
    assert events.options.timeout is None
    assert events.options.fallback is None
    assert events.options.io == "auto"
    assert events.location.file == __file__
    assert not events.wants_ctx
    assert not events.is_async
    assert repr(events) == "<asset events>"


def test_decorator_with_arguments() -> None:
    @lg.asset(
        key="clean_events",
        retries=lg.Retry(3, backoff="constant", base="1s"),
        timeout="10m",
        fallback=lg.last_good,
        cache=lg.cache.by_inputs,
        tags=["db", "gpu"],
        description="Cleaned.",
        owner="data-team",
        io="json",
    )
    def clean() -> None: ...

    assert clean.key == "clean_events"
    assert (clean.options.retry.retries, clean.options.retry.max_attempts) == (3, 4)
    assert clean.options.timeout == 600.0
    assert clean.options.fallback is lg.last_good
    assert clean.options.cache == lg.cache.by_inputs
    assert clean.options.tags == ("db", "gpu")
    assert clean.description == "Cleaned."
    assert clean.owner == "data-team"
    assert clean.options.io == "json"


def test_empty_parentheses_work_like_the_bare_decorator() -> None:
    @lg.asset()
    def events() -> int:
        return 1

    assert events.key == "events"


def test_numeric_retries_and_millisecond_timeout() -> None:
    @lg.asset(retries=3, timeout="500ms")
    def flaky() -> None: ...

    assert (flaky.options.retry.retries, flaky.options.retry.max_attempts) == (3, 4)
    assert flaky.options.retry.delay(1) == 0
    assert flaky.options.timeout == 0.5


def test_upstream_comes_from_parameter_names_plus_deps() -> None:
    @lg.asset
    def events() -> None: ...

    @lg.asset(deps=["raw_files", events])
    def features(events: list[int], users: list[int]) -> None: ...

    assert features.inputs == ("events", "users")
    assert features.deps == ("raw_files", "events")
    assert features.upstream == ("events", "users", "raw_files")


def test_ctx_is_not_an_upstream_asset() -> None:
    @lg.asset
    def features(ctx: lg.StepContext, events: list[int]) -> None: ...

    assert features.wants_ctx
    assert features.inputs == ("events",)


def test_keyword_only_parameters_are_upstream_too() -> None:
    @lg.asset
    def report(*, sales: int, costs: int) -> None: ...

    assert report.inputs == ("sales", "costs")


@pytest.mark.parametrize("signature", ["*events", "**events"])
def test_variadic_parameters_are_refused(signature: str) -> None:
    namespace: dict[str, object] = {"lg": lg}
    with pytest.raises(lg.DefinitionError, match=r"asset 'f': \*events is not allowed"):
        exec(f"@lg.asset\ndef f({signature}): ...", namespace)


def test_async_functions_are_detected() -> None:
    @lg.asset
    async def fetched() -> int:
        return 1

    assert fetched.is_async
    assert inspect.iscoroutinefunction(fetched.fn)


def test_calling_an_asset_outside_a_run_is_a_plain_call() -> None:
    @lg.asset(retries=2)
    def total(numbers: list[int]) -> int:
        return sum(numbers)

    assert total([1, 2, 3]) == 6
    assert total(numbers=[4]) == 4


def test_the_decorated_function_is_kept() -> None:
    def compute() -> int:
        return 3

    definition = lg.asset(compute)
    assert definition.fn is compute


def test_asset_definitions_are_immutable() -> None:
    @lg.asset
    def events() -> None: ...

    with pytest.raises(AttributeError):
        events.key = "other"  # type: ignore[misc]


@pytest.mark.parametrize("key", ["has space", "", "star*", "a/b", "-flag", "..", ".hidden"])
def test_invalid_keys_are_refused(key: str) -> None:
    with pytest.raises(lg.DefinitionError, match=r"name .* is not valid"):

        @lg.asset(key=key)
        def events() -> None: ...


def test_deps_given_as_one_string_is_refused_with_the_fix() -> None:
    with pytest.raises(lg.DefinitionError, match=r"deps=\['events'\]"):

        @lg.asset(deps="events")  # type: ignore[arg-type]
        def features() -> None: ...


def test_deps_must_name_assets() -> None:
    def events() -> None: ...

    with pytest.raises(lg.DefinitionError, match=r"deps must be asset names or @lg\.asset"):

        @lg.asset(deps=[events])  # type: ignore[list-item]
        def features() -> None: ...


@pytest.mark.parametrize(
    "key", ["events", "events_v2", "raw.events", "raw-events", "_private", "2024"]
)
def test_valid_keys(key: str) -> None:
    assert lg.asset(key=key)(lambda: None).key == key


def test_repeated_deps_count_once() -> None:
    @lg.asset(deps=["a", "b", "a"])
    def c(b: int) -> None: ...

    assert c.deps == ("a", "b")
    assert c.upstream == ("b", "a")
