"""``cache=lg.cache.by_inputs``: a step with the same inputs and code version reuses the
stored result without running its body; other inputs, another code version, another task
or an expired entry run it again."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

import legato as lg

# Worker processes get these functions by value, as they get those of a project file loaded
# by the CLI: they need not import this module (and pytest with it) for every run.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def counted(counter: str, x: Any) -> Any:
    """Doubles ``x``, appending one character to ``counter`` per call (works across
    processes)."""
    with open(counter, "a") as handle:
        handle.write("x")
    return x * 2


def counted_repr(counter: str, x: Any) -> str:
    with open(counter, "a") as handle:
        handle.write("x")
    return repr(x)


def calls(counter: Path) -> int:
    return len(counter.read_text()) if counter.exists() else 0


def run_task(settings: Any, task: lg.TaskDefinition[..., Any], counter: Path, x: Any) -> Any:
    @lg.flow(name="caching")
    def flow(x: Any) -> Any:
        return task(str(counter), x)

    return lg.run(flow, settings=settings, x=x)


cached = lg.task(name="cached", cache=lg.cache.by_inputs)(counted)


def test_same_inputs_reuse_the_result(run_settings: Any, tmp_path: Path,
                                      read_store: Any) -> None:
    counter = tmp_path / "calls"
    first = run_task(run_settings, cached, counter, 21)
    assert first.output == 42
    assert first.steps["cached"].status == "succeeded"
    second = run_task(run_settings, cached, counter, 21)
    assert second.status == "succeeded", second.error
    assert second.output == 42
    assert calls(counter) == 1  # the body did not run again
    step = second.steps["cached"]
    assert step.status == "cached"
    assert step.reason == f"reused the result of run {first.run_id}"
    assert step.attempts == 0
    record = next(s for s in read_store(run_settings).get_steps(second.run_id)
                  if s.step_key == "cached")
    assert record.status == "cached"
    assert record.cache_key is not None
    assert record.value_id == f"{first.run_id}/cached"


def test_other_inputs_run_the_body(run_settings: Any, tmp_path: Path) -> None:
    counter = tmp_path / "calls"
    run_task(run_settings, cached, counter, 1)
    result = run_task(run_settings, cached, counter, 2)
    assert (result.output, result.steps["cached"].status) == (4, "succeeded")
    assert calls(counter) == 2
    result = run_task(run_settings, cached, counter, [1])
    assert (result.output, result.steps["cached"].status) == ([1, 1], "succeeded")
    assert calls(counter) == 3
    again = run_task(run_settings, cached, counter, 1)
    assert (again.output, again.steps["cached"].status) == (2, "cached")
    assert calls(counter) == 3


def test_inputs_that_print_alike_are_told_apart(make_settings: Any, tmp_path: Path) -> None:
    settings = make_settings(executor="threads")
    counter = tmp_path / "calls"
    keyed = lg.task(name="keyed", cache=lg.cache.by_inputs)(counted_repr)
    for x in ({"1": "a"}, {1: "a"}, [1, 2], (1, 2), 1, 1.0):
        result = run_task(settings, keyed, counter, x)
        assert (result.steps["keyed"].status, result.output) == ("succeeded", repr(x))
    assert calls(counter) == 6
    again = run_task(settings, keyed, counter, (1, 2))
    assert (again.steps["keyed"].status, again.output) == ("cached", "(1, 2)")


def test_another_code_version_runs_the_body(make_settings: Any, tmp_path: Path) -> None:
    settings = make_settings(executor="threads")
    counter = tmp_path / "calls"
    v1 = lg.task(name="versioned", cache=lg.cache.by_inputs, code_version="1")(counted)
    v2 = lg.task(name="versioned", cache=lg.cache.by_inputs, code_version="2")(counted)
    assert run_task(settings, v1, counter, 5).steps["versioned"].status == "succeeded"
    assert run_task(settings, v1, counter, 5).steps["versioned"].status == "cached"
    assert run_task(settings, v2, counter, 5).steps["versioned"].status == "succeeded"
    assert calls(counter) == 2


def test_another_task_with_the_same_code_version_does_not_share_the_cache(
    make_settings: Any, tmp_path: Path
) -> None:
    settings = make_settings(executor="threads")
    counter = tmp_path / "calls"
    first = lg.task(name="first", cache=lg.cache.by_inputs, code_version="1")(counted)
    second = lg.task(name="second", cache=lg.cache.by_inputs, code_version="1")(counted)
    assert run_task(settings, first, counter, 5).steps["first"].status == "succeeded"
    result = run_task(settings, second, counter, 5)
    assert result.steps["second"].status == "succeeded"
    assert calls(counter) == 2


def test_expired_entries_run_the_body(make_settings: Any, tmp_path: Path) -> None:
    settings = make_settings(executor="threads")
    counter = tmp_path / "calls"
    short = lg.task(name="short", cache=lg.cache.by_inputs.within("1s"))(counted)
    assert run_task(settings, short, counter, 3).steps["short"].status == "succeeded"
    assert run_task(settings, short, counter, 3).steps["short"].status == "cached"
    time.sleep(1.05)
    result = run_task(settings, short, counter, 3)
    assert result.steps["short"].status == "succeeded"
    assert calls(counter) == 2


def test_uncached_tasks_always_run(make_settings: Any, tmp_path: Path) -> None:
    settings = make_settings(executor="threads")
    counter = tmp_path / "calls"
    plain = lg.task(name="plain")(counted)
    run_task(settings, plain, counter, 1)
    result = run_task(settings, plain, counter, 1)
    assert result.steps["plain"].status == "succeeded"
    assert calls(counter) == 2


class Opaque:
    """Neither JSON nor picklable inputs make no cache key: the body just runs."""

    def __reduce__(self) -> Any:
        raise TypeError("not picklable")

    def __mul__(self, other: int) -> str:
        return "opaque"


def test_inputs_without_a_key_run_the_body(make_settings: Any, tmp_path: Path) -> None:
    settings = make_settings(executor="threads")
    counter = tmp_path / "calls"
    for _ in range(2):
        result = run_task(settings, cached, counter, Opaque())
        assert (result.output, result.steps["cached"].status) == ("opaque", "succeeded")
    assert calls(counter) == 2


def failing_counted(counter: str, x: Any) -> Any:
    with open(counter, "a") as handle:
        handle.write("x")
    raise RuntimeError("no result to cache")


def test_failures_are_not_cached(make_settings: Any, tmp_path: Path) -> None:
    settings = make_settings(executor="threads")
    counter = tmp_path / "calls"
    failing = lg.task(name="failing", cache=lg.cache.by_inputs)(failing_counted)

    @lg.flow(name="caching")
    def flow() -> str:
        try:
            failing(str(counter), 1)
        except lg.StepFailed:
            return "failed"
        return "ok"

    assert lg.run(flow, settings=settings).output == "failed"
    assert lg.run(flow, settings=settings).output == "failed"
    assert calls(counter) == 2


@lg.asset(cache=lg.cache.by_inputs)
def cached_asset(ctx: lg.StepContext) -> int:
    counter = Path(ctx.params["counter"])
    with counter.open("a") as handle:
        handle.write("x")
    return 7


@lg.asset
def uses_cached(cached_asset: int) -> int:
    return cached_asset + 1


def test_a_cached_asset_feeds_its_downstream(run_settings: Any, tmp_path: Path) -> None:
    counter = tmp_path / "calls"
    params = {"counter": str(counter)}
    first = lg.materialize([cached_asset, uses_cached], settings=run_settings, params=params)
    assert first.status == "succeeded", first.error
    second = lg.materialize([cached_asset, uses_cached], settings=run_settings, params=params)
    assert second.status == "succeeded", second.error
    assert second.steps["cached_asset"].status == "cached"
    assert second.value("uses_cached") == 8
    assert calls(counter) == 1


# -- a key of your own: lg.cache.by_key ---------------------------------------------------


def parse_body(counter: str, path: str) -> list[str]:
    """Read a file, counting the reads: the task a user caches by its path."""
    with open(counter, "a") as handle:
        handle.write("x")
    return Path(path).read_text().split()


def run_parse(settings: Any, task: lg.TaskDefinition[..., Any], counter: Path,
              path: Path) -> Any:
    @lg.flow(name="parsing")
    def flow() -> Any:
        try:
            return task(str(counter), str(path))
        except lg.StepFailed as failed:
            return failed

    return lg.run(flow, settings=settings)


def by_content(inputs: dict[str, Any]) -> str:
    return lg.cache.file_digest(inputs["path"])


def test_a_task_cached_by_inputs_does_not_see_its_file_change(make_settings: Any,
                                                              tmp_path: Path) -> None:
    """What a key function is for: the inputs (a path) are the same, the file is not."""
    settings = make_settings(executor="inline")
    parse = lg.task(name="parse", cache=lg.cache.by_inputs)(parse_body)
    data, counter = tmp_path / "orders.txt", tmp_path / "calls"
    data.write_text("a b")
    assert run_parse(settings, parse, counter, data).output == ["a", "b"]
    data.write_text("a b c")
    stale = run_parse(settings, parse, counter, data)
    assert (stale.steps["parse"].status, stale.output) == ("cached", ["a", "b"])
    assert calls(counter) == 1


def test_a_key_with_the_file_content_runs_again_when_the_file_changes(
    run_settings: Any, tmp_path: Path, read_store: Any
) -> None:
    parse = lg.task(name="parse", cache=lg.cache.by_key(by_content))(parse_body)
    data, counter = tmp_path / "orders.txt", tmp_path / "calls"
    data.write_text("a b")
    first = run_parse(run_settings, parse, counter, data)
    assert (first.steps["parse"].status, first.output) == ("succeeded", ["a", "b"])
    again = run_parse(run_settings, parse, counter, data)
    assert (again.steps["parse"].status, again.output) == ("cached", ["a", "b"])
    assert calls(counter) == 1
    data.write_text("a b c")
    changed = run_parse(run_settings, parse, counter, data)
    assert (changed.steps["parse"].status, changed.output) == ("succeeded", ["a", "b", "c"])
    assert calls(counter) == 2
    data.write_text("a b")  # back to the first content: its result is reused
    back = run_parse(run_settings, parse, counter, data)
    assert (back.steps["parse"].status, back.output) == ("cached", ["a", "b"])
    assert back.steps["parse"].reason == f"reused the result of run {first.run_id}"
    assert calls(counter) == 2


def test_a_key_function_gets_the_inputs_by_name_with_defaults_and_without_ctx(
    make_settings: Any, tmp_path: Path
) -> None:
    seen: list[dict[str, Any]] = []

    def key(inputs: dict[str, Any]) -> str:
        seen.append(inputs)
        return str(inputs["x"] % 2)  # odd and even numbers share a result

    @lg.task(cache=lg.cache.by_key(key))
    def parity(ctx: lg.StepContext, x: int, label: str = "n") -> str:
        return f"{label}{x}"

    @lg.flow
    def flow(x: int) -> str:
        return parity(x)

    settings = make_settings(executor="threads")
    assert lg.run(flow, x=1, settings=settings).output == "n1"
    assert lg.run(flow, x=3, settings=settings).output == "n1"
    assert lg.run(flow, x=2, settings=settings).output == "n2"
    assert seen == [{"x": 1, "label": "n"}, {"x": 3, "label": "n"}, {"x": 2, "label": "n"}]


def test_a_key_function_returning_none_does_not_cache(make_settings: Any,
                                                      tmp_path: Path) -> None:
    settings = make_settings(executor="inline")
    never = lg.task(name="never", cache=lg.cache.by_key(lambda inputs: None))(counted)
    counter = tmp_path / "calls"
    for _ in range(2):
        result = run_task(settings, never, counter, 1)
        assert result.steps["never"].status == "succeeded"
    assert calls(counter) == 2


def test_a_key_function_that_raises_fails_the_step_and_names_it(
    run_settings: Any, tmp_path: Path, read_store: Any
) -> None:
    parse = lg.task(name="parse", cache=lg.cache.by_key(by_content),
                    retries=2)(parse_body)
    counter = tmp_path / "calls"
    result = run_parse(run_settings, parse, counter, tmp_path / "missing.txt")
    failed = result.output
    assert isinstance(failed, lg.StepFailed)
    expected = ("the cache key function of task 'parse' raised FileNotFoundError: [Errno 2] "
                f"No such file or directory: '{tmp_path / 'missing.txt'}'; the task did not run")
    assert failed.error == expected
    assert isinstance(failed.__cause__, FileNotFoundError)
    step = result.steps["parse"]
    assert (step.status, step.attempts, step.error) == ("failed", 1, expected)
    assert calls(counter) == 0  # the body never ran, and it was not retried
    events = [e for e in read_store(run_settings).get_events(result.run_id)
              if e.step_key == "parse" and e.kind == "step_failed"]
    assert [e.data["next"] for e in events] == ["fail"]
    assert "by_content" in events[0].data["traceback"]


def test_by_key_keeps_its_key_when_it_expires_and_refuses_a_non_function() -> None:
    policy = lg.cache.by_key(by_content).within("1h")
    assert (policy.key, policy.expires_after) == (by_content, 3600)
    with pytest.raises(lg.DefinitionError, match="takes a function of the step's inputs"
                       ) as caught:
        lg.cache.by_key("path")  # type: ignore[arg-type]
    assert caught.value.problems[0].file == __file__


def test_file_digest_is_the_sha256_of_the_content(tmp_path: Path) -> None:
    import hashlib

    path = tmp_path / "f.bin"
    path.write_bytes(b"\x00legato")
    assert lg.cache.file_digest(path) == hashlib.sha256(b"\x00legato").hexdigest()
    assert lg.cache.file_digest(str(path)) == lg.cache.file_digest(path)
