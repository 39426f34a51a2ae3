"""A step's output is capped per attempt (``max_log_bytes``), the rest dropped with a marker
that gives the sizes; output is written in chunks while the step runs, not in one commit
at its end; memory stays bounded however much a step prints."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

import legato as lg
from legato.capture import CHUNK_LINES, Capture

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

cloudpickle.register_pickle_by_value(sys.modules[__name__])

LIMIT = 100_000
LINES = 50_000


def _printed(n: int) -> list[str]:
    return [f"line {i}" for i in range(n)]


@lg.task
def loud(n: int) -> int:
    for i in range(n):
        print(f"line {i}")
    return n


@lg.flow
def shouting(n: int) -> int:
    return loud(n)


@lg.task
def counts_its_own_logs(n: int, url: str, ctx: lg.StepContext) -> int:
    """Prints ``n`` lines, then counts how many of them the store already holds."""
    from legato.store.sql_store import SqlStore

    for i in range(n):
        print(f"line {i}")
    with SqlStore(url) as store:
        return len(store.get_logs(ctx.run_id, ctx.step_key))


@lg.flow
def self_counting(n: int, url: str) -> int:
    return counts_its_own_logs(n, url)


def _check_capped(store: Any, run_id: str, step: str, limit: int, printed: list[str]) -> None:
    lines = store.get_logs(run_id, step)
    *kept, marker = lines
    messages = [line.message for line in kept]
    assert messages == printed[:len(messages)]  # in order, nothing skipped, none twice
    kept_bytes = sum(len(m) + 1 for m in messages)
    assert limit - 20 < kept_bytes <= limit
    assert {line.attempt for line in lines} == {1}
    total = sum(len(m) + 1 for m in printed)
    dropped = len(printed) - len(messages)
    assert marker.level == logging.WARNING
    assert marker.message == (
        f"[legato] output truncated: {dropped:,} lines ({total - kept_bytes:,} bytes) "
        f"dropped after the first {kept_bytes:,} bytes; the attempt wrote {total:,} bytes "
        f"in all (max_log_bytes is {limit:,}: raise LEGATO_MAX_LOG_BYTES to keep more)")


def test_output_past_the_limit_is_dropped_with_a_marker(executor: str, make_settings: Any,
                                                        read_store: Any) -> None:
    """On every executor (in the worker process for ``processes``)."""
    settings = make_settings(executor=executor, max_log_bytes=LIMIT, max_parallel=2)
    result = lg.run(shouting, settings=settings, n=LINES)
    assert result.status == "succeeded", result.error
    _check_capped(read_store(settings), result.run_id, "loud", LIMIT, _printed(LINES))


@lg.task
def dump() -> None:
    sys.stdout.write("".join(f"line {i}\n" for i in range(LINES)))


@lg.flow
def dumping() -> None:
    dump()


def test_a_single_huge_write_is_capped(make_settings: Any, read_store: Any) -> None:
    settings = make_settings(executor="threads", max_log_bytes=LIMIT)
    result = lg.run(dumping, settings=settings)
    assert result.status == "succeeded", result.error
    _check_capped(read_store(settings), result.run_id, "dump", LIMIT, _printed(LINES))


def test_few_lines_are_untouched(make_settings: Any, read_store: Any) -> None:
    settings = make_settings(executor="threads", max_log_bytes=LIMIT)
    result = lg.run(shouting, settings=settings, n=3)
    lines = read_store(settings).get_logs(result.run_id, "loud")
    assert [line.message for line in lines] == _printed(3)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("executor", ["inline", "threads"])
def test_output_is_written_in_chunks_while_the_step_runs(
        backend: str, executor: str, make_settings: Any, read_store: Any,
        request: pytest.FixtureRequest) -> None:
    url = (request.getfixturevalue("postgres_url") if backend == "postgres"
           else None)
    settings = make_settings(executor=executor, database_url=url)
    n = CHUNK_LINES * 3 + 10
    result = lg.run(self_counting, settings=settings, n=n, url=settings.store_url)
    assert result.status == "succeeded", result.error
    assert result.output == CHUNK_LINES * 3  # three chunks committed before the step ended
    lines = read_store(settings).get_logs(result.run_id, "counts_its_own_logs")
    assert [line.message for line in lines] == _printed(n)  # the rest with its end, in order
    assert {line.attempt for line in lines} == {1}


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_processes_executor_writes_its_capped_output_in_chunks(
        backend: str, make_settings: Any, read_store: Any,
        request: pytest.FixtureRequest) -> None:
    """Captured and capped in the worker process; written in chunks by the run's process."""
    url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    settings = make_settings(executor="processes", max_parallel=1, database_url=url,
                             max_log_bytes=LIMIT)
    result = lg.run(shouting, settings=settings, n=LINES)
    assert result.status == "succeeded", result.error
    _check_capped(read_store(settings), result.run_id, "loud", LIMIT, _printed(LINES))


def test_a_capture_hands_over_full_chunks_and_keeps_the_rest() -> None:
    chunks: list[list[Any]] = []
    capture = Capture(limit=None, sink=chunks.append)
    for i in range(CHUNK_LINES * 2 + 5):
        capture.write("stdout", f"{i}\n")
    assert [len(chunk) for chunk in chunks] == [CHUNK_LINES, CHUNK_LINES]
    assert [line[3] for line in capture.finish()] == [str(i) for i in range(
        CHUNK_LINES * 2, CHUNK_LINES * 2 + 5)]


def test_a_timed_out_body_left_running_stops_being_captured() -> None:
    capture = Capture(limit=None)
    capture.write("stdout", "before\n")
    assert [line[3] for line in capture.detach()] == ["before"]
    capture.write("stdout", "after\n")
    assert capture.lines == [(capture.lines[0][0], "stdout", logging.INFO, "before")]


CHATTY_SCRIPT = textwrap.dedent('''
    import resource, sys
    import legato as lg
    from legato.settings import Settings

    @lg.task
    def chatty(n: int) -> int:
        for i in range(n):
            print(f"line {i}")
        return n

    @lg.flow
    def noisy(n: int) -> int:
        return chatty(n)

    settings = Settings(home=sys.argv[1], executor="threads", max_log_bytes=1_000_000)
    lg.run(noisy, settings=settings, n=10)  # everything imported and warmed up
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = lg.run(noisy, settings=settings, n=1_000_000)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(result.status, (after - before) // 1024, file=sys.__stderr__)
''')


@pytest.mark.slow
def test_a_million_lines_keep_memory_bounded(tmp_path: Path) -> None:
    """Unbounded, the million lines took 677 MB; capped at 1 MB, the run's peak memory
    grows by a few MB at most."""
    script = tmp_path / "chatty.py"
    script.write_text(CHATTY_SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    done = subprocess.run([sys.executable, str(script), str(tmp_path / ".legato")], check=False,
                          capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    found = re.search(r"(\w+) (\d+)\s*$", done.stderr)
    assert found is not None, done.stderr
    status, grown_mb = found.group(1), int(found.group(2))
    assert status == "succeeded"
    assert grown_mb < 40, f"peak memory grew by {grown_mb} MB"


def test_lines_from_a_worker_process_are_handed_over_in_chunks_of_bounded_size() -> None:
    from legato.capture import CHUNK_BYTES, hand_over

    big = [(0.0, "stdout", logging.INFO, "x" * (CHUNK_BYTES // 2 + 1)) for _ in range(5)]
    chunks: list[list[Any]] = []
    rest = hand_over(big, chunks.append)
    assert [len(chunk) for chunk in chunks] == [2, 2]
    assert rest == big[4:]
    few = big[:1]
    assert hand_over(few, chunks.append) == few and len(chunks) == 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_chunk_of_output_is_fenced_by_the_lease(backend: str, make_settings: Any,
                                                  read_store: Any,
                                                  request: pytest.FixtureRequest) -> None:
    """A commit of log lines alone is refused, as any other write, once the run is not this
    lease's any more (here: it has ended)."""
    from legato.errors import LeaseLost
    from legato.store.records import Lease, LogLine

    url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    settings = make_settings(executor="threads", database_url=url)
    result = lg.run(shouting, settings=settings, n=3)
    store = read_store(settings)
    run = store.get_run(result.run_id)
    assert run.lease_owner is not None and run.lease_token is not None
    lease = Lease(run.run_id, run.lease_owner, run.lease_token, 30.0)
    late = LogLine(run.run_id, "loud", 1, 0.0, "stdout", logging.INFO, "too late")
    with pytest.raises(LeaseLost):
        store.commit([], log_lines=[late], lease=lease)
    assert "too late" not in [line.message for line in store.get_logs(run.run_id)]
