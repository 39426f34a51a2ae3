"""Dataframes (Polars, pandas, Arrow) to and from Parquet, without importing any of them
until a frame is actually seen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

FRAME_TYPES = {
    ("polars", "DataFrame"): "polars",
    ("pandas", "DataFrame"): "pandas",
    ("pyarrow", "Table"): "arrow",
}
"""(top-level package, class name) -> kind. The package, not the module: libraries move
their classes between modules (pandas 3 reports ``pandas.DataFrame``, pandas 2
``pandas.core.frame.DataFrame``)."""


def frame_kind(value: object) -> str | None:
    cls = type(value)
    return FRAME_TYPES.get((cls.__module__.partition(".")[0], cls.__qualname__))


def write_parquet(value: Any, kind: str, path: Path) -> None:
    if kind == "polars":
        value.write_parquet(path)
    elif kind == "pandas":
        value.to_parquet(path)
    else:
        import pyarrow.parquet as pq

        pq.write_table(value, path)


def read_parquet(kind: str, path: Path) -> Any:
    if kind == "polars":
        import polars

        return polars.read_parquet(path)
    if kind == "pandas":
        import pandas

        return pandas.read_parquet(path)
    import pyarrow.parquet as pq

    return pq.read_table(path)


def describe_frame(value: Any, kind: str) -> tuple[int, dict[str, str]]:
    """Row count and column types."""
    if kind == "polars":
        return value.height, {name: str(dtype) for name, dtype in value.schema.items()}
    if kind == "pandas":
        return len(value), {str(name): str(dtype) for name, dtype in value.dtypes.items()}
    return value.num_rows, {field.name: str(field.type) for field in value.schema}
