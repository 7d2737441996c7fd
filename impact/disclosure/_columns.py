"""Column roles shared by the table kinds: label columns, count matrices, blocked extremes."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from ..errors import DataError
from ..frame import require_columns, require_no_missing, require_numeric
from ..params import check_columns_arg
from . import rules as R
from .checked import Findings
from .config import DisclosureConfig


def label_columns(df: pl.DataFrame, index: str | Sequence[str] | None, *, owner: str) -> list[str]:
    """The row-label columns: `index` if given, otherwise every non-numeric column."""
    if index is None:
        return [c for c, dt in df.schema.items() if not dt.is_numeric() and not isinstance(dt, pl.List)]
    cols = check_columns_arg(owner, "index", index)
    require_columns(df, cols, owner=owner, role="index column")
    return cols


def count_matrix(df: pl.DataFrame, columns: Sequence[str], *, owner: str) -> np.ndarray:
    """The columns as an (rows x columns) int64 matrix; DataError unless whole and non-negative."""
    require_numeric(df, columns, owner=owner, role="count column")
    require_no_missing(df, columns, owner=owner)
    x = df.select(columns).to_numpy().astype(np.float64)
    bad = (x < 0) | (x != np.round(x))
    if bad.any():
        j = int(np.nonzero(bad.any(axis=0))[0][0])
        raise DataError(
            f"{owner}: count column '{columns[j]}' has {int(bad[:, j].sum())} value(s) that are not "
            "whole non-negative numbers; pass counts, or use kind='magnitude' for means, sums and rates"
        )
    return x.astype(np.int64)


def block_extremes(df: pl.DataFrame, candidates: Sequence[str], config: DisclosureConfig, f: Findings) -> list[str]:
    """Flag every cell of extreme-named columns (min, max, p0, p100); return those columns."""
    blocked = R.extreme_columns(list(candidates), config)
    f.flag(R.EXTREMES, range(df.height), [df.columns.index(c) for c in blocked])
    return blocked


def positions(df: pl.DataFrame, columns: Sequence[str]) -> list[int]:
    """Column positions of `columns` in `df`."""
    return [df.columns.index(c) for c in columns]
