"""Every error legato raises on purpose.

The tree, so that callers can catch as narrowly as they like::

    LegatoError
    ├── DefinitionError        definitions are invalid: a cycle, a missing upstream, ...
    ├── SettingsError          a setting has a bad value
    ├── StoreError             the store cannot be opened, read or written
    │   ├── SchemaVersionError the database was written by a newer legato
    │   ├── UnstorableError    one write's data cannot be stored (too long, out of range, ...)
    │   └── IllegalTransition  an event does not fit the current state (the gate refused it)
    │       └── LeaseLost      another process took the run over: this one's writes are refused
    ├── RunNotFoundError       no run (or no unique run) has that id
    ├── BackfillNotFoundError  no backfill (or no unique backfill) has that id
    ├── RunInProgressError     the run is being executed by a live process (its lease holds)
    ├── NonDeterminismError    a resumed flow no longer calls its tasks as the run recorded
    ├── ParamsError            a run's parameters do not fit the flow's signature
    ├── SelectionError         an asset selection names nothing, or something unknown
    ├── PartitionError         a partition key is not one of an asset's, or a range is reversed
    ├── ValueStoreError        a step's value cannot be stored or loaded
    ├── StepFailed             a task called inside a flow failed for good
    ├── RunCanceled            a run was canceled (Ctrl-C, or cancel())
    └── StaleData              (later: the read guard) data is too old or not servable

Messages name the thing, the rule that was broken and how to fix it. User code's own
exceptions are never wrapped in these except at one boundary: a failed task call inside a
flow raises ``StepFailed`` whose ``__cause__`` is the original exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class LegatoError(Exception):
    """Root of every error legato raises on purpose."""

    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the definitions, with where it was written."""

    message: str
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        if not self.file:
            return self.message
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


class DefinitionError(LegatoError):
    """The definitions cannot be loaded: one entry in ``problems`` per problem found."""

    def __init__(self, problems: Sequence[Problem] | str, *, hint: str | None = None) -> None:
        if isinstance(problems, str):
            problems = [Problem(problems)]
        self.problems: tuple[Problem, ...] = tuple(problems)
        if len(self.problems) == 1:
            message = str(self.problems[0])
        else:
            lines = "\n".join(f"  - {p}" for p in self.problems)
            message = f"{len(self.problems)} problems in the definitions:\n{lines}"
        super().__init__(message, hint=hint)


class SettingsError(LegatoError):
    """A setting (environment variable or ``[tool.legato]``) has a bad value."""


class StoreError(LegatoError):
    """The store cannot be opened, read or written."""


class SchemaVersionError(StoreError):
    """The database was written by a newer version of legato; it is never migrated down."""


class UnstorableError(StoreError):
    """One write's data cannot be stored even after ``store/storable.py`` made its text
    storable (a name longer than its column, a number out of range, ...). Only the request
    that carried it fails; ``what`` names the event or row and ``field`` the offending
    parameter, when known."""

    def __init__(self, message: str, *, what: str = "", field: str | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.what = what
        self.field = field

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (str(self),), self.__dict__)


class IllegalTransition(StoreError):  # noqa: N818 - the gate's word for it
    """An event does not fit the current state (e.g. succeeding a finished step); the
    transaction carrying it was rolled back."""


class LeaseLost(IllegalTransition):
    """Another process took over the run (its lease had expired): every write of this one,
    the former holder, is rejected, so it can never record a second result."""


class RunNotFoundError(LegatoError):
    """No run, or more than one run, matches the given id."""


class BackfillNotFoundError(LegatoError):
    """No backfill, or more than one backfill, matches the given id."""


class RunInProgressError(LegatoError):
    """The run is still being executed by a live process that holds its lease."""


class NonDeterminismError(LegatoError):
    """A resumed flow called its tasks in another order than the run recorded: its code
    changed. ``call_site`` is the file and line of the call that did not match."""

    def __init__(self, message: str, *, call_site: str | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.call_site = call_site


class ParamsError(LegatoError):
    """A run's parameters do not fit the flow's signature."""


class SelectionError(LegatoError):
    """An asset selection is empty or names an unknown asset."""


class MissingUpstreamError(SelectionError):
    """An asset reads partitions of an upstream asset outside the selection that were never
    materialized. The hint is a command that materializes them (``backfill_command``);
    an interface that knows how its command line named the definitions puts them in it
    (``with_definitions``), so that the hint works when pasted."""

    def __init__(self, message: str, *, upstream: str, missing: Sequence[str],
                 more: int = 0, upstream_has_upstream: bool = False,
                 then: str | None = None) -> None:
        self.upstream = upstream
        self.missing = tuple(missing)
        self.more = more
        self.upstream_has_upstream = upstream_has_upstream
        self.then = then
        super().__init__(message, hint=self.backfill_command(None))

    def backfill_command(self, definitions: str | None) -> str:
        """``legato backfill [DEFINITIONS] UP --from FIRST --to LAST``: ``'*UP'`` when UP
        has upstream assets of its own (they may be missing too), and no ``--to`` when
        more partitions are missing than were listed (up to the last ended one)."""
        import shlex

        selection = shlex.quote(f"*{self.upstream}" if self.upstream_has_upstream
                                else self.upstream)
        parts = ["legato backfill", *([definitions] if definitions else []), selection,
                 f"--from {shlex.quote(self.missing[0])}"]
        if not self.more:
            parts.append(f"--to {shlex.quote(self.missing[-1])}")
        command = " ".join(parts)
        return f"materialize them first: {command}" + (f", then {self.then}"
                                                       if self.then else "")

    def with_definitions(self, definitions: str | None) -> MissingUpstreamError:
        """This error, its hint naming the definitions as the command line did (``FILE.py``
        or ``-m pkg.mod``; None when they came from the settings)."""
        self.hint = self.backfill_command(definitions)
        return self


class PartitionError(LegatoError):
    """A partition key is not one of the partitions (wrong format, outside the range, or
    a window that does not exist or has not ended), or a range of keys is reversed."""


class ValueStoreError(LegatoError):
    """A step's value cannot be serialized, stored or loaded."""


class StepFailed(LegatoError):  # noqa: N818 - named for the outcome, like StaleData
    """A task called inside a flow failed for good; ``__cause__`` holds its exception."""

    def __init__(self, step_key: str, error: str) -> None:
        self.step_key = step_key
        self.error = error
        super().__init__(f"step '{step_key}' failed: {error}")

    def __reduce__(self) -> tuple[object, ...]:
        """Picklable, so that it can cross a process boundary like the other errors."""
        return (type(self), (self.step_key, self.error), self.__dict__)


class RunCanceled(LegatoError):  # noqa: N818 - named for the outcome, like StaleData
    """The run was canceled before it finished."""
