"""Sensors on their own: the decorator's checks, evaluation on the interval grid, the cursor,
what a function may return, timeouts. (The loop around them: tests/daemon.)"""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest

import legato as lg
from legato.scheduler.sensor import read_cursor
from legato.scheduler.timezones import UTC

NOW = dt.datetime(2026, 11, 20, 12, 0, 7, tzinfo=UTC)


@lg.flow
def ingest(path: str = "") -> str:
    return path


def test_defaults_and_identity() -> None:
    @lg.sensor(flow=ingest)
    def files(ctx: lg.SensorContext) -> None:
        """Looks for new files."""

    assert isinstance(files, lg.SensorDefinition)
    assert (files.name, files.trigger_key, files.interval) == ("files", "sensor:files", 30)
    assert (files.flow, files.selection, files.timeout) == ("ingest", (), None)
    assert files.description == "Looks for new files."
    assert repr(files) == "<sensor files: flow ingest, every 30s>"
    named = lg.sensor(interval="5m", selection=["a", "b*"], name="other",
                      timeout="10s")(lambda: None)
    assert (named.interval, named.selection, named.timeout) == (300, ("a", "b*"), 10.0)


@pytest.mark.parametrize(("options", "message"), [
    ({}, "give exactly one of flow=my_flow or selection='*model'"),
    ({"flow": ingest, "selection": "a"}, "give exactly one of"),
    ({"flow": ingest, "interval": "0.5s"}, "an interval must be a whole number of seconds"),
    ({"flow": ingest, "interval": "soon"}, "'soon' is not a duration"),
    ({"flow": ingest, "timeout": 0}, "timeout must be more than 0 seconds"),
    ({"flow": 3}, "flow= takes an @lg.flow or a flow's name, not 3"),
])
def test_mistakes_are_definition_errors(options: dict[str, object], message: str) -> None:
    with pytest.raises(lg.DefinitionError, match=r"@lg\.sensor") as raised:
        lg.sensor(name="s", **options)(lambda ctx: None)  # type: ignore[call-overload]
    assert message in str(raised.value)


def test_a_function_of_two_arguments_is_refused() -> None:
    with pytest.raises(lg.DefinitionError, match="takes one argument, its context"):
        @lg.sensor(flow=ingest)
        def two(ctx: object, other: object) -> None: ...


def test_evaluated_once_per_grid_tick_with_its_cursor() -> None:
    @lg.sensor(interval="10s", flow=ingest)
    def counter(ctx: lg.SensorContext) -> lg.RunRequest:
        ctx.cursor = str(int(ctx.cursor or 0) + 1)
        return lg.RunRequest(params={"path": ctx.cursor})

    first = counter.evaluate(None, NOW)
    [request] = first.run_requests
    assert (request.trigger_key, request.tick_key) == ("sensor:counter",
                                                       "2026-11-20T12:00:00Z")
    assert request.run_key == "sensor:counter@2026-11-20T12:00:00Z"
    assert (request.flow, dict(request.params)) == ("ingest", {"path": "1"})
    assert json.loads(first.cursor or "") == {"at": "2026-11-20T12:00:00Z", "cursor": "1"}
    same = counter.evaluate(first.cursor, NOW + dt.timedelta(seconds=2))
    assert same.run_requests == () and same.cursor == first.cursor
    later = counter.evaluate(first.cursor, NOW + dt.timedelta(seconds=3))
    assert read_cursor(later.cursor) == (dt.datetime(2026, 11, 20, 12, 0, 10, tzinfo=UTC),
                                         "2")
    assert counter.next_evaluation(later.cursor, NOW) == dt.datetime(
        2026, 11, 20, 12, 0, 20, tzinfo=UTC)


def test_what_a_function_may_return() -> None:
    results: list[object] = [None, "nothing new", lg.RunRequest(run_key="k"),
                             [lg.RunRequest(), lg.RunRequest(partition_key="2026-11-19")]]

    @lg.sensor(interval="1s", selection="*report")
    def varied() -> object:
        return results.pop(0)

    at = NOW
    outcomes = []
    cursor = None
    for _ in range(4):
        evaluation = varied.evaluate(cursor, at)
        outcomes.append(evaluation)
        cursor = evaluation.cursor
        at += dt.timedelta(seconds=1)
    assert [len(e.run_requests) for e in outcomes] == [0, 0, 1, 2]
    assert [e.reason for e in outcomes] == [None, "nothing new", None, None]
    assert outcomes[2].run_requests[0].tick_key == "k"
    second = outcomes[3].run_requests
    assert [r.tick_key for r in second] == ["2026-11-20T12:00:10Z", "2026-11-20T12:00:10Z#1"]
    assert second[1].partition_key == "2026-11-19" and second[1].selection == ("*report",)


@pytest.mark.parametrize(("returned", "message"), [
    (42, "returned 42; return lg.RunRequest(...)"),
    ([lg.RunRequest(), "x"], "return lg.RunRequest(...), a list of them"),
    ({"run_key": "k"}, "returned {'run_key': 'k'}"),
    (lg.RunRequest(run_key=""), "returned a run_key '': it must be non-empty text"),
])
def test_a_wrong_return_is_an_error_with_what_to_return(returned: object,
                                                        message: str) -> None:
    bad = lg.sensor(interval="1s", flow=ingest, name="bad")(lambda: returned)
    evaluation = bad.evaluate(None, NOW)
    assert evaluation.run_requests == ()
    assert evaluation.error is not None and message in evaluation.error
    assert evaluation.error.startswith("sensor 'bad' ")


def test_a_cursor_that_is_not_text_is_an_error() -> None:
    @lg.sensor(interval="1s", flow=ingest)
    def numeric(ctx: lg.SensorContext) -> None:
        ctx.cursor = 5  # type: ignore[assignment]

    evaluation = numeric.evaluate(None, NOW)
    assert evaluation.error == ("sensor 'numeric' ctx.cursor must be text (a str; "
                                "json.dumps it), not int")
    assert read_cursor(evaluation.cursor)[1] is None


def test_raising_keeps_the_old_cursor_and_moves_the_tick_on() -> None:
    @lg.sensor(interval="1s", flow=ingest)
    def broken(ctx: lg.SensorContext) -> None:
        ctx.cursor = "lost"
        raise KeyError("bucket")

    start = json.dumps({"at": "2026-11-20T11:00:00Z", "cursor": "kept"})
    evaluation = broken.evaluate(start, NOW)
    assert evaluation.error is not None
    assert evaluation.error.startswith("sensor 'broken' raised KeyError: 'bucket'")
    assert read_cursor(evaluation.cursor) == (NOW.replace(microsecond=0), "kept")


def test_async_functions_are_awaited() -> None:
    @lg.sensor(interval="1s", flow=ingest)
    async def awaited() -> lg.RunRequest:
        return lg.RunRequest(run_key="async")

    assert awaited.evaluate(None, NOW).run_requests[0].tick_key == "async"


def test_a_timeout_abandons_the_call_until_it_returns() -> None:
    release = threading.Event()

    @lg.sensor(interval="1s", flow=ingest, timeout=0.05)
    def hangs() -> None:
        release.wait(10)

    first = hangs.evaluate(None, NOW)
    assert first.error is not None and "took longer than its timeout of 0.05s" in first.error
    second = hangs.evaluate(first.cursor, NOW + dt.timedelta(seconds=1))
    assert second.error is not None and "still running" in second.error
    release.set()


def test_paused_it_passes_over_without_calling() -> None:
    calls = []
    watched = lg.sensor(interval="1s", flow=ingest, name="w")(lambda: calls.append(1))
    start = json.dumps({"at": "2026-11-20T11:00:00Z", "cursor": "c"})
    evaluation = watched.pass_over(start, NOW)
    assert calls == [] and evaluation.reason == "paused"
    assert read_cursor(evaluation.cursor) == (NOW.replace(microsecond=0), "c")
    assert watched.pass_over(evaluation.cursor, NOW).reason is None
