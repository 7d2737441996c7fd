"""Accept polars, pandas or Arrow input and check the columns an estimator uses.

Every estimator converts its input once with `as_polars` and checks columns with the helpers
here, so the error for a missing column or a missing value reads the same everywhere.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from .errors import DataError


def as_polars(data: Any, *, owner: str = "impact") -> pl.DataFrame:
    """Convert a polars/pandas DataFrame or a pyarrow Table to a polars DataFrame (no copy where possible)."""
    if isinstance(data, pl.DataFrame):
        return data
    if isinstance(data, pl.LazyFrame):
        return data.collect()
    try:
        import pyarrow as pa

        if isinstance(data, (pa.Table, pa.RecordBatch)):
            return pl.from_arrow(data)  # type: ignore[return-value]
    except ImportError:  # pragma: no cover - pyarrow is a core dependency
        pass
    mod = type(data).__module__
    if mod.startswith("pandas"):
        return pl.from_pandas(data)
    raise DataError(
        f"{owner}: data must be a polars or pandas DataFrame or a pyarrow Table; got {type(data).__name__}"
    )


def require_columns(df: pl.DataFrame, columns: Sequence[str], *, owner: str, role: str = "column") -> None:
    """Raise DataError naming every requested column that is absent, with the available ones."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        avail = ", ".join(df.columns[:20]) + (", ..." if len(df.columns) > 20 else "")
        names = ", ".join(repr(c) for c in missing)
        raise DataError(f"{owner}: unknown {role} {names} (available: {avail})")


def require_no_missing(df: pl.DataFrame, columns: Sequence[str], *, owner: str) -> None:
    """Raise DataError naming the first column with null (or NaN) values and how many rows have them."""
    for c in columns:
        s = df.get_column(c)
        n = s.null_count()
        if s.dtype.is_float():
            n += int(s.is_nan().sum())
        if n:
            raise DataError(
                f"{owner}: column '{c}' has {n} missing value(s) of {df.height} rows; "
                "drop or impute them before estimating"
            )


def require_numeric(df: pl.DataFrame, columns: Sequence[str], *, owner: str, role: str = "column") -> None:
    """Raise DataError if any named column is not numeric or boolean."""
    for c in columns:
        dt = df.schema[c]
        if not (dt.is_numeric() or dt == pl.Boolean):
            raise DataError(f"{owner}: {role} '{c}' must be numeric or boolean; it has type {dt}")


def require_binary(df: pl.DataFrame, column: str, *, owner: str, role: str = "treatment") -> None:
    """Raise DataError unless the column holds only 0/1 (or booleans) and both values occur."""
    s = df.get_column(column)
    require_numeric(df, [column], owner=owner, role=role)
    values = set(s.drop_nulls().cast(pl.Float64).unique().to_list())
    if not values <= {0.0, 1.0}:
        bad = sorted(values - {0.0, 1.0})[:5]
        raise DataError(f"{owner}: {role} column '{column}' must be 0/1; found values {bad}")
    if values != {0.0, 1.0}:
        raise DataError(f"{owner}: {role} column '{column}' must contain both 0 and 1; found only {sorted(values)}")
