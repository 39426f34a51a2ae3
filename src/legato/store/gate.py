"""The transition gate: every state change is an event, appended to the log and applied to
the projections (runs, steps, materializations) by one small named rule per event kind, in
one transaction. Statements are compiled once per dialect and run on the raw DBAPI
connection: this is the hot path of every step.

A rule that finds its row in an unexpected state (a step succeeding that is not running)
updates nothing; the gate then rolls the whole transaction back and raises.

Every parameter goes through ``store/storable.py`` here, the one place where data becomes
SQL parameters; a value that still cannot be stored (too long for its column, a number out of
range) raises ``UnstorableError`` naming the event and the field, for the writer to hand to
the request that carried it alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    and_,
    bindparam,
    cast,
    func,
    insert,
    literal_column,
    not_,
    null,
    select,
    update,
)
from sqlalchemy.engine import Dialect

from legato.errors import IllegalTransition, LeaseLost, UnstorableError
from legato.store.dialects import insert_for
from legato.store.events import (
    AssetMaterialized,
    EventKind,
    RunClaimed,
    RunEnded,
    RunQueued,
    RunReleased,
    RunResumed,
    RunStarted,
    RunTarget,
    StepFailed,
    StepReset,
    StepSettled,
    StepStarted,
    StepSucceeded,
    payload_of,
)
from legato.store.records import (
    FINAL_STEP_STATUSES,
    OK_STEP_STATUSES,
    Event,
    Lease,
    LogLine,
    StoredValue,
)
from legato.store.schema import (
    events,
    logs,
    materializations,
    metadata,
    runs,
    steps,
    stored_values,
)
from legato.store.storable import dumps, storable_row


def _is_conflict(error: BaseException) -> bool:
    """A unique key refused the row (a run started twice): the event does not apply. Every
    DBAPI driver names this error class ``IntegrityError`` (PEP 249)."""
    return any(cls.__name__ == "IntegrityError" for cls in type(error).__mro__)


_dumps = dumps


def _is_data_error(error: BaseException) -> bool:
    """The driver refused this data (not the connection): a value that cannot be encoded,
    is too long for its column, or out of its type's range. PEP 249 calls it ``DataError``;
    Python's sqlite3 raises ``OverflowError``/``ValueError`` before the statement runs."""
    return isinstance(error, ValueError | TypeError | OverflowError) or any(
        cls.__name__ == "DataError" for cls in type(error).__mro__)


def _column_limits() -> tuple[dict[str, int], dict[str, int]]:
    lengths: dict[str, int] = {}
    widths: dict[str, int] = {}
    for table in metadata.tables.values():
        for column in table.columns:
            length = getattr(column.type, "length", None)
            if isinstance(length, int):
                lengths[column.name] = min(length, lengths.get(column.name, length))
            python_type = getattr(column.type, "python_type", None) if not length else None
            if python_type is int:
                bits = 63 if type(column.type).__name__ == "BigInteger" else 31
                widths[column.name] = min(bits, widths.get(column.name, bits))
    return lengths, widths


_LENGTHS, _WIDTHS = _column_limits()


def _culprit(rows: Sequence[dict[str, Any]]) -> tuple[dict[str, Any] | None, str, str]:
    """The row and parameter that cannot be stored, and why; (None, "", "") when none
    stands out."""
    for row in rows:
        for name, value in row.items():
            field = name.removeprefix("p_")
            limit = _LENGTHS.get(field)
            if isinstance(value, str) and limit is not None and len(value) > limit:
                return row, field, (f"is {len(value):,} characters long, more than the "
                                    f"{limit} the store keeps")
            bits = _WIDTHS.get(field)
            if (isinstance(value, int) and bits is not None
                    and not -(2 ** bits) <= value < 2 ** bits):
                return row, field, f"({value}) is out of the range of a {bits + 1}-bit integer"
    return None, "", ""


def _unstorable(doing: str | None, rows: Sequence[dict[str, Any]],
                error: BaseException) -> UnstorableError:
    """The error for a write whose data the driver refused: it names the event (or log
    line) and, when one stands out, the field."""
    row, field, why = _culprit(rows)
    if doing is None:  # a batch of rows: name the culprit's, else the first
        first = row or (rows[0] if rows else {})
        doing = (f"{first.get('kind', 'a log line')} of run {first.get('run_id')}"
                 + (f" step '{first['step_key']}'" if first.get("step_key") else ""))
    reason = (str(error).strip().splitlines() or [""])[0]
    if row is not None:
        message = f"{doing} cannot be stored: its field '{field}' {why}"
        hint = (f"did you mean to keep '{field}' shorter? Large data belongs in the step's "
                "returned value" if "characters" in why
                else f"keep '{field}' within the integer range")
    else:
        message = f"{doing} cannot be stored ({type(error).__name__}: {reason})"
        hint = "only the step that wrote it fails; other steps and runs are not affected"
    return UnstorableError(message, what=doing, field=field or None, hint=hint)


def _lit(value: str) -> Any:
    """A constant rendered into the SQL text (the statements are compiled once)."""
    return literal_column(f"'{value}'")


_FINAL = [_lit(str(s)) for s in sorted(FINAL_STEP_STATUSES)]
_HAS_VALUE = OK_STEP_STATUSES
_STEP_FIELDS = ("name", "kind", "seq", "upstream", "tags")


class Statements:
    """SQL text for each projection write, compiled for one dialect."""

    def __init__(self, dialect: Dialect) -> None:
        def sql(stmt: Any) -> str:
            return str(stmt.compile(dialect=dialect))

        def values_of(table: Any, *skip: str) -> dict[str, Any]:
            return {c.name: bindparam(c.name) for c in table.columns if c.name not in skip}

        upsert = insert_for(dialect.name)
        self.insert_event = sql(insert(events).values(values_of(events, "event_id")))
        self.insert_log = sql(insert(logs).values(values_of(logs, "log_id")))
        self.insert_value = sql(insert(stored_values).values(values_of(stored_values)))
        self.insert_materialization = sql(
            insert(materializations).values(values_of(materializations))
        )
        self.insert_run = sql(insert(runs).values(values_of(runs)))
        running = and_(runs.c.run_id == bindparam("p_run_id"), runs.c.status == _lit("running"))
        self.finish_run = sql(
            update(runs).where(running)
            .values(status=bindparam("status"), ended_at=bindparam("ended_at"),
                    error=bindparam("error"), output_value_id=bindparam("output_value_id"))
        )
        holds = and_(running, runs.c.lease_token == bindparam("token"))
        # The fence at the head of every write of a lease holder; on PostgreSQL it locks the
        # run's row, so that a takeover waits for the transaction. Merged into the first
        # event's insert when there is one: a round trip less (15% of a step on PostgreSQL).
        self.check_lease = sql(select(runs.c.lease_token).where(holds)
                               .with_for_update(read=True))
        fenced = and_(runs.c.run_id == bindparam("f_run_id"), runs.c.status == _lit("running"),
                      runs.c.lease_token == bindparam("f_token"))
        columns = [c for c in events.columns if c.name != "event_id"]
        self.insert_event_fenced = sql(insert(events).from_select(
            [c.name for c in columns],
            select(*[bindparam(c.name) if dialect.name == "sqlite"
                     else cast(bindparam(c.name), c.type) for c in columns])
            .select_from(runs).where(fenced).with_for_update(read=True)))
        queued = and_(runs.c.run_id == bindparam("p_run_id"), runs.c.status == _lit("queued"))
        self.claim_run = sql(  # a worker claims a queued run: it is leased to it (token 1)
            update(runs).where(queued)
            .values(status=_lit("running"), lease_owner=bindparam("owner"),
                    lease_token=literal_column("1"), lease_expires_at=bindparam("expires_at"),
                    started_at=bindparam("started_at"))
        )
        self.cancel_queued = sql(
            update(runs).where(queued)
            .values(status=_lit("canceled"), ended_at=bindparam("ended_at"),
                    error=bindparam("error"))
        )
        # wakes the workers waiting on an empty queue (LISTEN), at commit; PostgreSQL only
        self.key_taken = sql(select(runs.c.run_id)
                             .where(runs.c.idempotency_key == bindparam("key")))
        self.notify_queued = ("NOTIFY legato_queue" if dialect.name == "postgresql"
                              else None)
        self.renew_lease = sql(  # the heartbeat
            update(runs).where(holds).values(lease_expires_at=bindparam("expires_at"))
        )
        self.release_lease = sql(  # its holder lets the run go: expired now, token bumped
            update(runs).where(holds)
            .values(lease_token=runs.c.lease_token + literal_column("1"),
                    lease_expires_at=bindparam("expires_at"))
        )
        self.take_lease = sql(  # compare-and-set: only if nobody renewed or took it meanwhile
            update(runs)
            .where(and_(running,
                        func.coalesce(runs.c.lease_token, literal_column("0"))
                        == bindparam("previous_token"),
                        func.coalesce(runs.c.lease_expires_at, literal_column("0"))
                        <= bindparam("seen_expires_at")))
            .values(lease_owner=bindparam("owner"), lease_token=bindparam("token"),
                    lease_expires_at=bindparam("expires_at"))
        )
        step_key = and_(
            steps.c.run_id == bindparam("p_run_id"), steps.c.step_key == bindparam("p_step_key")
        )
        started = upsert(steps).values(values_of(steps))
        self.start_step = sql(
            started.on_conflict_do_update(
                index_elements=[steps.c.run_id, steps.c.step_key],
                set_={"status": _lit("running"), "attempts": started.excluded.attempts,
                      "ended_at": null()},  # started_at stays: a step's time spans attempts
                where=steps.c.status.in_([_lit("retrying"), _lit("running")]),
            )
        )
        self.fail_attempt = sql(
            update(steps)
            .where(and_(step_key, steps.c.status == _lit("running")))
            .values(status=bindparam("status"), ended_at=bindparam("ended_at"),
                    error=bindparam("error"), traceback=bindparam("traceback"))
        )
        self.succeed_step = sql(
            update(steps)
            .where(and_(step_key, steps.c.status == _lit("running")))
            .values(status=_lit("succeeded"), ended_at=bindparam("ended_at"),
                    value_id=bindparam("value_id"), cache_key=bindparam("cache_key"),
                    error=null())
        )
        self.reset_step = sql(
            update(steps)
            .where(and_(step_key, steps.c.status.in_([_lit(str(s)) for s in sorted(_HAS_VALUE)])))
            .values(status=_lit("retrying"), value_id=null(), ended_at=null(),
                    reason=bindparam("reason"))
        )
        settled = upsert(steps).values(values_of(steps))
        self.settle_step = sql(
            settled.on_conflict_do_update(
                index_elements=[steps.c.run_id, steps.c.step_key],
                set_={"status": settled.excluded.status, "reason": settled.excluded.reason,
                      "value_id": settled.excluded.value_id,
                      "ended_at": settled.excluded.ended_at},
                where=not_(steps.c.status.in_(_FINAL)),
            )
        )


Exec = Callable[[str, dict[str, Any]], int]
Rule = Callable[[Statements, Exec, Event, Any], int]
"""A rule gets the event and its typed payload (``store/events.py``)."""


def _step_row(event: Event, p: StepStarted | StepSettled, *, status: str,
              **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "run_id": event.run_id, "step_key": event.step_key, "name": p.name,
        "kind": p.kind, "seq": p.seq, "status": status,
        "attempts": event.attempt or 0, "started_at": None, "ended_at": None, "error": None,
        "traceback": None, "reason": None, "value_id": None, "cache_key": None,
        "upstream": _dumps(p.upstream), "tags": _dumps(p.tags),
    }
    row.update(values)
    return row


def _run_row(event: Event, p: RunQueued | RunStarted, *, status: str,
             **values: Any) -> dict[str, Any]:
    if p.kind is None or p.target is None:
        raise IllegalTransition(f"{event.kind} of run {event.run_id} names no kind or target")
    row: dict[str, Any] = {
        "run_id": event.run_id, "kind": p.kind, "target": p.target, "status": status,
        "params": _dumps(p.params), "tags": _dumps(p.tags),
        "source": p.source, "created_at": event.at, "ended_at": None, "error": None,
        "lease_owner": None, "lease_token": None, "lease_expires_at": None,
        "idempotency_key": p.idempotency_key, "output_value_id": None,
        "priority": p.priority, "partition_key": p.partition_key,
        "trigger_key": p.trigger_key, "backfill_id": p.backfill_id,
        "started_at": None,
        "assets": RunTarget.read(p.kind, p.target, p.selection).assets_column,
    }
    row.update(values)
    return row


def run_started(sql: Statements, run: Exec, event: Event, p: RunStarted) -> int:
    """A new run, leased to the process that starts it (token 1) when ``owner`` is given;
    or, with ``claimed``, a queued run that its worker claimed beginning to execute."""
    if p.claimed:  # the claim made it running; its lease fenced this event
        return 1
    lease = ({"lease_owner": p.owner, "lease_token": 1,
              "lease_expires_at": event.at + (p.lease_s or 0.0)} if p.owner else {})
    return run(sql.insert_run, _run_row(event, p, status="running", started_at=event.at,
                                        **lease))


def run_queued(sql: Statements, run: Exec, event: Event, p: RunQueued) -> int:
    """A run requested (by a trigger, a backfill, ``legato trigger``) and waiting for a
    worker. A second request with the same idempotency key (``schedule:x@<tick>``) conflicts
    with the first: a tick never makes two runs."""
    return run(sql.insert_run, _run_row(event, p, status="queued"))


def run_claimed(sql: Statements, run: Exec, event: Event, p: RunClaimed) -> int:
    """A worker claimed a queued run: it runs, leased to the worker (token 1)."""
    return run(sql.claim_run, {"p_run_id": event.run_id, "owner": p.owner,
                               "expires_at": event.at + p.lease_s,
                               "started_at": event.at})


def run_resumed(sql: Statements, run: Exec, event: Event, p: RunResumed) -> int:
    """Take the run's lease over: applies only if its token and expiry are still those the
    taker saw (an expired lease, or one whose holder is known dead)."""
    return run(sql.take_lease, {
        "p_run_id": event.run_id, "owner": p.owner, "token": p.token,
        "expires_at": event.at + p.lease_s, "previous_token": p.previous_token or 0,
        "seen_expires_at": p.seen_expires_at or 0.0,
    })


def run_released(sql: Statements, run: Exec, event: Event, p: RunReleased) -> int:
    """The lease's holder lets the run go (a worker shutting down): the lease expires now and
    its token moves on, so another worker may take the run over at once and whatever the
    former holder still writes is refused. Applies only while ``token`` is the run's."""
    return run(sql.release_lease, {"p_run_id": event.run_id, "token": p.token,
                                   "expires_at": event.at})


def run_finished(sql: Statements, run: Exec, event: Event, p: RunEnded) -> int:
    """A run ended; a queued run can only be canceled (``queued: true``), before any worker
    claimed it."""
    if p.queued:
        return run(sql.cancel_queued, {"p_run_id": event.run_id, "ended_at": event.at,
                                       "error": p.error})
    status = event.kind.removeprefix("run_")
    return run(sql.finish_run, {"p_run_id": event.run_id, "status": status,
                                "ended_at": event.at, "error": p.error,
                                "output_value_id": p.output_value_id})


def step_started(sql: Statements, run: Exec, event: Event, p: StepStarted) -> int:
    return run(sql.start_step, _step_row(event, p, status="running", started_at=event.at))


_AFTER_FAILURE = {"retry": "retrying", "fallback": "running", "fail": "failed"}
"""An attempt failed: the step waits for its next attempt, falls back (in the same
transaction), or has failed for good."""


def step_failed(sql: Statements, run: Exec, event: Event, p: StepFailed) -> int:
    nxt = p.next or ("retry" if p.will_retry else "fail")
    return run(sql.fail_attempt, {
        "p_run_id": event.run_id, "p_step_key": event.step_key,
        "status": _AFTER_FAILURE[nxt],
        "ended_at": event.at if nxt == "fail" else None,
        "error": p.error, "traceback": p.traceback,
    })


def step_succeeded(sql: Statements, run: Exec, event: Event, p: StepSucceeded) -> int:
    return run(sql.succeed_step, {
        "p_run_id": event.run_id, "p_step_key": event.step_key, "ended_at": event.at,
        "value_id": p.value_id, "cache_key": p.cache_key,
    })


def step_settled(sql: Statements, run: Exec, event: Event, p: StepSettled) -> int:
    """Skipped, canceled, cached or fallback: the step ends without (another) attempt."""
    return run(sql.settle_step, _step_row(
        event, p, status=event.kind.removeprefix("step_"), ended_at=event.at,
        started_at=event.at if p.started_at is None else p.started_at, reason=p.reason,
        value_id=p.value_id, cache_key=p.cache_key,
    ))


def step_reset(sql: Statements, run: Exec, event: Event, p: StepReset) -> int:
    """A finished step whose value cannot be loaded any more (its file is missing or
    damaged) is to run again: it waits for its next attempt, and the reason says why."""
    return run(sql.reset_step, {"p_run_id": event.run_id, "p_step_key": event.step_key,
                                "reason": p.reason})


def asset_materialized(sql: Statements, run: Exec, event: Event, p: AssetMaterialized
                       ) -> int:
    return run(sql.insert_materialization, {
        "materialization_id": p.materialization_id, "asset_key": p.asset_key,
        "run_id": event.run_id, "step_key": event.step_key, "created_at": event.at,
        "code_version": p.code_version, "data_version": p.data_version,
        "value_id": p.value_id, "upstream": _dumps(p.upstream),
        "row_count": p.row_count,
        "columns": _dumps(p.columns) if p.columns is not None else None,
        "partition_key": p.partition_key,
    })


RULES: dict[str, Rule] = {
    EventKind.RUN_STARTED: run_started,
    EventKind.RUN_QUEUED: run_queued,
    EventKind.RUN_CLAIMED: run_claimed,
    EventKind.RUN_RESUMED: run_resumed,
    EventKind.RUN_RELEASED: run_released,
    EventKind.RUN_SUCCEEDED: run_finished,
    EventKind.RUN_FAILED: run_finished,
    EventKind.RUN_CANCELED: run_finished,
    EventKind.STEP_STARTED: step_started,
    EventKind.STEP_FAILED: step_failed,
    EventKind.STEP_SUCCEEDED: step_succeeded,
    EventKind.STEP_SKIPPED: step_settled,
    EventKind.STEP_CANCELED: step_settled,
    EventKind.STEP_CACHED: step_settled,
    EventKind.STEP_FALLBACK: step_settled,
    EventKind.STEP_RESET: step_reset,
    EventKind.ASSET_MATERIALIZED: asset_materialized,
}
"""Event kind -> the rule that projects it onto runs, steps and materializations."""

LOG_ONLY_KINDS = frozenset({EventKind.STEP_RETRY_SCHEDULED, EventKind.RUN_LOG})
"""Kinds that only append to the log."""

OUTSIDE_RUNS = frozenset({EventKind.TRIGGER_PAUSED, EventKind.TRIGGER_RESUMED,
                          EventKind.BACKFILL_CANCELED, EventKind.DAEMON_ACQUIRED,
                          EventKind.DAEMON_LOST})
"""Kinds whose projection (a trigger's row, a backfill's, a daemon's lease) the store
module of their concern writes in the same transaction (``store/triggers.py``,
``store/backfills.py``): the gate appends them to the log."""


def fence(sql: Statements, cursor: Any, lease: Lease) -> None:
    """Go on only if ``lease`` is still the run's (its token current, the run running): else
    raise LeaseLost, and nothing of the transaction is written."""
    cursor.execute(sql.check_lease, {"p_run_id": lease.run_id, "token": lease.token})
    if cursor.fetchone() is None:
        raise _lost(lease)


def renew(sql: Statements, cursor: Any, lease: Lease, now: float) -> None:
    """Push the lease's expiry ``lease.ttl`` ahead, if it is still the run's."""
    cursor.execute(sql.renew_lease, {"p_run_id": lease.run_id, "token": lease.token,
                                     "expires_at": now + lease.ttl})
    if cursor.rowcount != 1:
        raise _lost(lease)


def _lost(lease: Lease) -> LeaseLost:
    return LeaseLost(
        f"run {lease.run_id} was taken over by another process (this one's lease, token "
        f"{lease.token}, is no longer current, or the run has ended): its write was rejected",
        hint="another process resumed the run after this one stopped renewing its lease; the "
        "run carries on there")


def apply(
    sql: Statements,
    cursor: Any,
    batch: Sequence[Event],
    values: Sequence[StoredValue],
    log_lines: Sequence[LogLine],
    *,
    lease: Lease | None = None,
) -> None:
    """Write one transaction's worth of changes; raise IllegalTransition on a bad event.
    Under ``lease`` (with at least one event), only while it holds (``LeaseLost``)."""

    doing = ""

    def run(statement: str, params: dict[str, Any]) -> int:
        try:
            cursor.execute(statement, storable_row(params))
        except Exception as error:
            if _is_data_error(error):
                raise _unstorable(doing, [params], error) from error
            if not _is_conflict(error):
                raise
            reason = str(error).strip().splitlines()[0]
            raise IllegalTransition(
                f"{doing} conflicts with a row already in the store ({reason})"
            ) from error
        return int(cursor.rowcount)

    def many(statement: str, rows: list[dict[str, Any]]) -> None:
        try:
            if len(rows) == 1:
                cursor.execute(statement, rows[0])
            elif rows:
                cursor.executemany(statement, rows)
        except Exception as error:
            if _is_data_error(error):
                raise _unstorable(None, rows, error) from error
            raise

    unfenced: list[dict[str, Any]] = []  # appended at the end, in one executemany
    for index, item in enumerate(batch):
        doing = item.kind + f" of run {item.run_id}" + (
            f" step '{item.step_key}'" if item.step_key else "")
        payload = payload_of(item, strict=True)  # before anything is written
        row = storable_row({"run_id": item.run_id, "step_key": item.step_key,
                            "attempt": item.attempt, "kind": item.kind, "at": item.at,
                            "data": _dumps(item.data)})
        if index == 0 and lease is not None:
            if run(sql.insert_event_fenced,
                   {**row, "f_run_id": lease.run_id, "f_token": lease.token}) != 1:
                raise _lost(lease)
        else:
            unfenced.append(row)
        rule = RULES.get(item.kind)
        if rule is None:  # a log-only kind, or one outside runs
            continue
        if rule(sql, run, item, payload) != 1:
            raise IllegalTransition(f"{item.kind} does not apply to run {item.run_id}"
                                    + (f" step '{item.step_key}'" if item.step_key else "")
                                    + " in its current state")
    # The log rows have no unique key, so nothing above depends on them being written
    # first: one batch (a single round trip on PostgreSQL, whose driver pipelines it)
    # instead of one statement each.
    many(sql.insert_event, unfenced)
    for value in values:  # after the events: the fence rides on the first one
        doing = f"value {value.value_id}"
        run(sql.insert_value, {
            "value_id": value.value_id, "format": value.format, "type": value.type,
            "inline": value.inline, "uri": value.uri, "size": value.size,
            "digest": value.digest, "created_at": value.created_at,
        })
    if log_lines:
        many(sql.insert_log, [
            storable_row({"run_id": line.run_id, "step_key": line.step_key,
                          "attempt": line.attempt, "at": line.at, "stream": line.stream,
                          "level": line.level, "message": line.message})
            for line in log_lines
        ])
