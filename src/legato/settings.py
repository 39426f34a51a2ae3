"""Settings from ``LEGATO_*`` environment variables and ``[tool.legato]`` in pyproject.toml.

Environment variables win over pyproject.toml, which wins over the defaults::

    [tool.legato]
    executor = "processes"
    max_parallel = 4
    concurrency = { warehouse = 2 }

    [tool.legato.executors.dask]     # an executor's own settings, validated by it
    address = "tcp://scheduler:8786" # (LEGATO_EXECUTORS__DASK__ADDRESS)

Imported only when a run starts or the CLI needs it: pydantic is not loaded by
``import legato``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    PyprojectTomlConfigSettingsSource,
    SettingsConfigDict,
)

from legato.errors import SettingsError
from legato.quick_settings import find_project_root, resolve_home, resolve_store_url

ExecutorName = str
"""A built-in executor (inline, threads, processes), an installed one (entry point group
``legato.executors``) or an import path ``package.module:Factory``. A name other than the
built-in ones is checked against the installed packages when settings load (the built-in
ones read no package metadata); an import path is loaded when a run starts
(``executors/registry.py``)."""


class Settings(BaseSettings):
    """Where legato keeps its state and how it runs steps."""

    model_config = SettingsConfigDict(
        env_prefix="LEGATO_",
        extra="forbid",
        frozen=True,
        pyproject_toml_table_header=("tool", "legato"),
        env_nested_delimiter="__",
    )

    definitions: str | None = Field(
        default=None,
        description="Where the CLI finds the project's definitions when none is named: a "
        "module (pkg.pipelines) or a file (pipelines.py).",
    )
    home: Path = Field(
        default=Path(".legato"),
        description="Folder for the embedded database and stored values, relative to the "
        "project root (the folder holding pyproject.toml).",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the store; default sqlite:///<home>/legato.db. "
        "PostgreSQL: postgresql+psycopg://user@host:5432/db.",
    )
    values_dir: Path | None = Field(
        default=None, description="Folder for values too large or not JSON; default <home>/values."
    )
    executor: ExecutorName = Field(
        default="threads",
        description="Where step bodies run: inline (debugging), threads, processes, an "
        "installed executor (entry point group legato.executors) or an import path "
        "package.module:Factory.",
    )
    executors: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Each executor's own settings, by its name: [tool.legato.executors.dask] "
        "address = \"...\" or LEGATO_EXECUTORS__DASK__ADDRESS; validated by the executor, "
        "not here.",
    )
    max_parallel: int = Field(
        default=8, ge=1, le=1024, description="Steps running at once in a run."
    )
    concurrency: dict[str, int] = Field(
        default_factory=dict,
        description="Most steps running at once per tag, e.g. {warehouse = 2}.",
    )
    durability: Literal["normal", "full"] = Field(
        default="normal",
        description="normal: a commit survives any process crash; full: also power loss "
        "(SQLite synchronous=FULL).",
    )
    lease_ttl: float = Field(
        default=30.0, gt=0, le=86_400,
        description="Seconds a run's lease lasts without being renewed: a run whose process "
        "stopped renewing it (died, or froze) for that long may be resumed by another. "
        "Renewed by every write, and by a heartbeat every third of it.",
    )
    max_concurrent_runs: int | None = Field(
        default=None, ge=1,
        description="Most queued runs running at once, across all workers (none: no limit).",
    )
    run_concurrency: dict[str, int] = Field(
        default_factory=dict,
        description="Most queued runs running at once per run tag, across all workers, e.g. "
        "{warehouse = 4, \"flow:nightly\" = 1} (a flow's runs carry flow:<name>).",
    )
    worker_slots: int = Field(
        default=4, ge=1, le=1024,
        description="Runs one worker executes at once.",
    )
    scheduler_tick: float = Field(
        default=1.0, gt=0, le=3600,
        description="Longest the scheduler sleeps between two looks at its triggers, in "
        "seconds (it wakes earlier for a schedule due sooner).",
    )
    sensor_timeout: float = Field(
        default=60.0, gt=0, le=86_400,
        description="Seconds a sensor's function may take; a sensor that takes longer is "
        "recorded as failed and the scheduler goes on.",
    )
    max_log_bytes: int = Field(
        default=10_000_000, ge=1024,
        description="Most bytes of output (stdout, stderr, logging) kept per attempt of a "
        "step; the rest is dropped, and a last line says how much was dropped and how much "
        "the attempt wrote in all. Output is written to the store in chunks while the step "
        "runs.",
    )
    log_level: str = Field(
        default="INFO",
        description="Lowest level of Python log records stored with a step's output "
        "(DEBUG, INFO, WARNING, ERROR, CRITICAL). It lowers the root logger only while it has "
        "Python's default level; a logger given a level of its own keeps it.",
    )
    allow_pickle: bool = Field(
        default=True,
        description="Store values that are neither JSON nor dataframes with pickle (trusted "
        "local use only).",
    )

    @field_validator("executor")
    @classmethod
    def _executor_named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name an executor: inline, threads, processes, an installed "
                             "one or package.module:Factory")
        name = value.strip()
        if name.lower() in ("inline", "threads", "processes"):
            return name.lower()
        from legato.executors.registry import check_name  # reads the installed packages

        check_name(name)  # an import path is only loaded when a run starts
        return name

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(f"unknown log level {value!r}: use DEBUG, INFO, WARNING, ERROR "
                             "or CRITICAL")
        return level

    @field_validator("concurrency", "run_concurrency")
    @classmethod
    def _positive_limits(cls, value: dict[str, int]) -> dict[str, int]:
        bad = {tag: limit for tag, limit in value.items() if limit < 1}
        if bad:
            raise ValueError(f"limits must be at least 1, got {bad}")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        pyproject = find_project_root() / "pyproject.toml"  # read only if it exists
        return (init_settings, env_settings,
                PyprojectTomlConfigSettingsSource(settings_cls, pyproject))

    @property
    def root(self) -> Path:
        return find_project_root()

    @property
    def home_dir(self) -> Path:
        return resolve_home(self.root, self.home)

    @property
    def store_url(self) -> str:
        return resolve_store_url(self.database_url, self.home_dir)

    @property
    def value_dir(self) -> Path:
        if self.values_dir is None:
            return self.home_dir / "values"
        return self.values_dir if self.values_dir.is_absolute() else self.root / self.values_dir


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and pyproject.toml, or one ``SettingsError`` listing
    every bad value."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        lines = []
        for item in error.errors():
            field = ".".join(str(p) for p in item["loc"])
            where = f"LEGATO_{field.upper()} / [tool.legato] {field}"
            lines.append(f"{where}: {item['msg']} (got {item.get('input')!r})")
        raise SettingsError(
            "bad settings:\n  " + "\n  ".join(lines),
            hint="fix the environment variable or pyproject.toml entry named above",
        ) from None
    except (OSError, ValueError) as error:
        raise SettingsError(f"cannot read settings: {error}") from None
