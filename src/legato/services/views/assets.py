"""The views of assets and their materializations (see ``legato.services.views``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class MaterializationView:
    """One successful computation of an asset."""

    materialization_id: str
    """Its id, the one upstream materializations name."""
    asset_key: str
    run_id: str
    step_key: str
    """The step of the run that computed it."""
    partition_key: str | None
    created_at: float
    code_version: str
    """The version of the asset's code that computed it."""
    data_version: str
    """A digest of the stored value."""
    upstream: dict[str, str]
    """The upstream materializations it used: asset key to materialization id."""
    row_count: int | None
    """Rows of a table-like value, when known."""
    columns: dict[str, str] | None
    """Column name to type of a table-like value, when known."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PartitionsView:
    """How much of a partitioned asset was materialized."""

    definition: str | None
    """Its partitions, described (``daily from 2026-01-01``); None when not defined here."""
    materialized: int
    """How many distinct partitions have a materialization."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetOutcomeView:
    """How the latest step that computed an asset ended, good or not."""

    run_id: str
    status: str
    """``succeeded``, ``cached``, ``failed``, ``fallback`` (its last good value was served
    instead), ``skipped`` or ``canceled``."""
    ended_at: float
    error: str | None
    reason: str | None
    """Why it was skipped, cached or fell back."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetView:
    """An asset, its latest materialization, and the outcome of its latest step (which
    may be newer: a failure does not hide behind the last good materialization)."""

    asset_key: str
    upstream: tuple[str, ...] = ()
    """The assets it depends on (empty when it is not defined here: only the store knows
    it)."""
    description: str | None = None
    owner: str | None = None
    latest_materialization: MaterializationView | None
    """Its newest materialization; None if never materialized."""
    latest_outcome: AssetOutcomeView | None
    """How its latest step ended; None if it never ran."""
    partitions: PartitionsView | None
    """For a partitioned asset; else None."""
