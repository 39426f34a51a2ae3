"""What a step prints and logs is stored with its attempt, on every executor; what is
printed outside steps still reaches the terminal."""

from __future__ import annotations

import logging
import subprocess
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


@lg.task
def chatty(ctx: lg.StepContext) -> int:
    print("to stdout")
    print("to stderr", file=sys.stderr)
    print("no newline at the end", end="")
    logging.getLogger("user.module").warning("a warning")
    logging.getLogger("user.module").info("an info")
    logging.getLogger("user.module").debug("below log_level")
    ctx.log.info("from ctx.log")
    return 1


@lg.task(retries=2)
def chatty_retried(counter: str) -> int:
    path = Path(counter)
    attempt = len(path.read_text()) + 1 if path.exists() else 1
    path.write_text("x" * attempt)
    print(f"attempt {attempt} says hello")
    if attempt < 3:
        raise RuntimeError(f"attempt {attempt} failed")
    return attempt


@lg.task
def item_talker(i: int) -> int:
    for n in range(3):
        print(f"item {i} line {n}")
        time.sleep(0.01)
    return i


@lg.task(timeout=0.3)
def hangs_after_talking() -> None:
    print("before hanging", flush=True)
    time.sleep(5)


@lg.flow
def talkative(counter: str) -> list[int]:
    print("outside any step")
    first = chatty()
    second = chatty_retried(counter)
    items = [f.result() for f in item_talker.map(range(4))]
    return [first, second, *items]


@lg.flow
def hanging() -> str:
    try:
        hangs_after_talking()
    except lg.StepFailed:
        return "timed out"
    return "finished"


@lg.asset
def logged_asset(ctx: lg.StepContext) -> int:
    print("asset says hi")
    ctx.log.warning("asset warns")
    return 2


def test_output_and_logs_are_stored_per_step_and_attempt(
    run_settings: Any, read_store: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = lg.run(talkative, settings=run_settings, counter=str(tmp_path / "count"))
    assert result.status == "succeeded", result.error
    store = read_store(run_settings)

    lines = store.get_logs(result.run_id, "chatty")
    got = {(line.stream, line.message) for line in lines}
    assert ("stdout", "to stdout") in got
    assert ("stderr", "to stderr") in got
    assert ("stdout", "no newline at the end") in got
    assert {line.attempt for line in lines} == {1}
    logged = {line.message: line.level for line in lines if line.stream == "log"}
    warning = next(m for m in logged if "a warning" in m)
    assert logged[warning] == logging.WARNING
    assert "user.module" in warning
    from_ctx = next(m for m in logged if "from ctx.log" in m)
    assert logged[from_ctx] == logging.INFO
    assert logged["user.module: an info"] == logging.INFO  # log_level is INFO by default
    assert not [m for m in logged if "below log_level" in m]
    assert {line.level for line in lines if line.stream == "stderr"} == {logging.WARNING}

    retried = store.get_logs(result.run_id, "chatty_retried")
    assert [(line.attempt, line.message) for line in retried if line.stream == "stdout"] == [
        (1, "attempt 1 says hello"), (2, "attempt 2 says hello"), (3, "attempt 3 says hello")]

    for i in range(4):  # steps running at the same time keep their own lines
        own = [line.message for line in store.get_logs(result.run_id, f"item_talker[{i}]")]
        assert own == [f"item {i} line {n}" for n in range(3)]

    everything = store.get_logs(result.run_id)
    assert not [line for line in everything if "outside any step" in line.message]
    printed = capsys.readouterr()
    assert "outside any step" in printed.out  # not swallowed
    assert "to stdout" not in printed.out and "to stderr" not in printed.err


def test_asset_logs_are_stored(run_settings: Any, read_store: Any) -> None:
    result = lg.materialize([logged_asset], settings=run_settings)
    lines = read_store(run_settings).get_logs(result.run_id, "logged_asset")
    assert ("stdout", "asset says hi") in {(line.stream, line.message) for line in lines}
    warning = next(line for line in lines if "asset warns" in line.message)
    assert (warning.stream, warning.level, warning.attempt) == ("log", logging.WARNING, 1)


@pytest.mark.parametrize("executor", ["inline", "threads"])
def test_an_abandoned_step_keeps_what_it_printed(executor: str, make_settings: Any,
                                                 read_store: Any) -> None:
    settings = make_settings(executor=executor)
    result = lg.run(hanging, settings=settings)
    assert result.output == "timed out"
    lines = read_store(settings).get_logs(result.run_id, "hangs_after_talking")
    assert [line.message for line in lines] == ["before hanging"]


def test_output_outside_runs_is_untouched(run_settings: Any,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    lg.run(talkative, settings=run_settings, counter="/dev/null/never")
    print("after the run")
    logging.getLogger("user.module").warning("after the run, logged")
    assert "after the run" in capsys.readouterr().out
    assert sys.stdout.__class__.__name__ != "_Router"


def test_warnings_outside_steps_reach_stderr_when_logging_is_not_configured() -> None:
    """As Python does without a handler: a run's own warnings (a write refused because the
    run was taken over, say) are not swallowed by the capture."""
    script = ("import logging\n"
              "from legato.capture import routing\n"
              "with routing():\n"
              "    logging.getLogger('legato.x').warning('seen')\n"
              "    logging.getLogger('legato.x').info('not seen')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, timeout=60)
    assert done.stderr.strip() == "seen"


PROJECT_FILE = """\
import logging
import sys

import legato as lg

log = logging.getLogger(__name__)
logging.getLogger("configured.by.user").setLevel(logging.WARNING)


@lg.task
def talk() -> int:
    logging.getLogger("configured.by.user").setLevel(logging.WARNING)  # also in a worker
    log.info("info from the module's logger")
    log.debug("debug from the module's logger")
    logging.getLogger("configured.by.user").info("kept quiet by its own level")
    logging.getLogger("some.library").debug("third-party debug")
    print("a notice on stderr", file=sys.stderr)
    return 1


@lg.flow
def talking() -> int:
    return talk()
"""


def test_module_loggers_are_captured_at_info_under_their_file_name(
        run_settings: Any, read_store: Any, tmp_path: Path) -> None:
    """A project file loaded by path: ``logging.getLogger(__name__).info`` is kept, under
    the file's stem rather than the generated module name; levels set by the user stay."""
    path = tmp_path / "etl_logging.py"
    path.write_text(PROJECT_FILE)
    defs = lg.load(str(path))
    result = lg.run(defs.flows["talking"], settings=run_settings)
    assert result.status == "succeeded", result.error
    lines = read_store(run_settings).get_logs(result.run_id, "talk")
    logged = {line.message: line.level for line in lines if line.stream == "log"}
    assert logged == {"etl_logging: info from the module's logger": logging.INFO}
    assert [(line.message, line.level) for line in lines if line.stream == "stderr"] == [
        ("a notice on stderr", logging.WARNING)]
    assert logging.getLogger("configured.by.user").level == logging.WARNING
    assert logging.getLogger().level == logging.WARNING  # restored after the run


def test_log_level_setting(make_settings: Any, read_store: Any) -> None:
    settings = make_settings(executor="threads", log_level="warning")
    result = lg.run(talkative, settings=settings, counter="/dev/null/never")
    lines = read_store(settings).get_logs(result.run_id, "chatty")
    logged = [line.message for line in lines if line.stream == "log"]
    assert "user.module: a warning" in logged
    assert "user.module: an info" not in logged
    with pytest.raises(ValueError, match="unknown log level 'loud'"):
        make_settings(log_level="loud")


def test_handlers_the_user_configured_see_what_they_saw(make_settings: Any,
                                                        read_store: Any) -> None:
    """Lowering the root logger for the capture does not flood the user's own handlers."""
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    handler = Keep()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        settings = make_settings(executor="threads")
        result = lg.run(talkative, settings=settings, counter="/dev/null/never")
    finally:
        root.removeHandler(handler)
    assert handler.filters == []
    messages = [record.getMessage() for record in seen]
    assert "a warning" in messages and "an info" not in messages
    logged = [line.message for line in read_store(settings).get_logs(result.run_id, "chatty")]
    assert "user.module: an info" in logged
