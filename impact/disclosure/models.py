"""Estimate tables (the tidy() table of a model) and balance tables (group means with their n)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from ..errors import DataError
from ..frame import require_columns
from ..params import check_number
from . import rules as R
from ._columns import block_extremes, count_matrix, label_columns, positions
from .checked import Findings
from .config import DisclosureConfig

_EST = "check_table(kind='estimate')"
_BAL = "check_table(kind='balance')"
STAT_COLUMNS = ("estimate", "std_error", "statistic", "p_value", "ci_low", "ci_high", "df")

#: How residual degrees of freedom are counted for the DoF rule (also written to properties).
DOF_RULE = (
    "effective DoF per row = min(df, n_clusters - 1, df_resid) over those available: 'df' is the "
    "t reference df of tidy() (n - k, or G - 1 for cluster-robust fits), n_clusters - 1 bounds "
    "clustered models by their number of clusters, df_resid is the model's residual df if passed"
)


def check_estimate(
    df: pl.DataFrame, config: DisclosureConfig, f: Findings, *, df_resid: float | None = None
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Residual DoF >= min_dof for every row (fail otherwise); every count column (n_obs,
    n_treated, n_comparison, any other n_*; not n_clusters) >= min_count, else the row's
    statistics and counts are suppressed."""
    check_number("check_table", "df_resid", df_resid, low=0, allow_none=True)
    require_columns(df, ["term", "estimate"], owner=_EST)
    numeric = [c for c, dt in df.schema.items() if dt.is_numeric()]
    count_cols = [c for c in numeric if c.startswith("n_") and c != "n_clusters"]
    blocked = block_extremes(df, [c for c in numeric if c not in count_cols], config, f)
    stat_cols = [c for c in STAT_COLUMNS if c in df.columns and c not in blocked]
    row_cols = positions(df, stat_cols + count_cols)
    counts = df.select(count_cols).to_numpy().astype(np.float64) if count_cols else np.zeros((df.height, 0))
    known = ~np.isnan(counts)
    c0 = np.where(known, counts, config.min_count)
    thr = known & R.below_threshold(c0, config)
    zer = known & R.disclosive_zero(c0, config)
    f.flag(R.THRESHOLD, np.flatnonzero(thr.any(axis=1)), row_cols)
    f.flag(R.ZEROS, np.flatnonzero(zer.any(axis=1)), row_cols)
    dof = _effective_dof(df, df_resid)
    f.flag(R.DOF, np.flatnonzero(dof < config.min_dof), row_cols)
    f.flag(R.DOF_UNKNOWN, np.flatnonzero(np.isnan(dof)), positions(df, ["estimate"]))
    return df, {"rows": df.height, "count_columns": count_cols, "dof_rule": DOF_RULE}


def _effective_dof(df: pl.DataFrame, df_resid: float | None) -> np.ndarray:
    """min(df, n_clusters - 1, df_resid) per row, NaN where none is available."""
    parts = []
    if "df" in df.columns:
        parts.append(df.get_column("df").cast(pl.Float64).to_numpy())
    if "n_clusters" in df.columns:
        parts.append(df.get_column("n_clusters").cast(pl.Float64).to_numpy() - 1)
    if df_resid is not None:
        parts.append(np.full(df.height, float(df_resid)))
    if not parts:
        return np.full(df.height, np.nan)
    return np.fmin.reduce(np.vstack(parts), axis=0)  # fmin skips NaN unless all are NaN


def check_balance(
    df: pl.DataFrame,
    config: DisclosureConfig,
    f: Findings,
    *,
    index: str | Sequence[str] | None = None,
    sample_col: str = "sample",
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Group means with n_treated / n_comparison per row: each group's statistics need n >= min_count;
    where rows for sample 'before' and 'after' exist, a group losing between 1 and min_count - 1
    units to matching has its 'after' statistics suppressed (its dropped units' mean could be
    differenced out)."""
    groups = ("treated", "comparison")
    require_columns(df, [f"n_{g}" for g in groups], owner=_BAL, role="group count column")
    n = count_matrix(df, [f"n_{g}" for g in groups], owner=_BAL)
    labels = label_columns(df, index, owner=_BAL)
    numeric = [c for c in df.columns if c not in labels and c not in ("n_treated", "n_comparison")]
    blocked = block_extremes(df, numeric, config, f)
    stats = [c for c in numeric if c not in blocked]
    joint = [c for c in stats if not any(c.endswith("_" + g) for g in groups)]
    diff = _differencing(df, labels, n, sample_col, config)
    for k, g in enumerate(groups):
        cols = positions(df, [c for c in stats if c.endswith("_" + g)] + joint + [f"n_{g}"])
        f.flag(R.THRESHOLD, np.flatnonzero(R.below_threshold(n[:, k], config)), cols)
        f.flag(R.ZEROS, np.flatnonzero(R.disclosive_zero(n[:, k], config)), cols)
        f.flag(R.DIFFERENCING, np.flatnonzero(diff[:, k]), cols[:-1])
    return df, {"rows": df.height, "statistics": stats}


def _differencing(
    df: pl.DataFrame, labels: list[str], n: np.ndarray, sample_col: str, config: DisclosureConfig
) -> np.ndarray:
    """(rows x 2) True on 'after' rows whose group lost 1..min_count-1 units since 'before'."""
    out = np.zeros(n.shape, bool)
    if sample_col not in df.columns:
        return out
    keys = [c for c in labels if c != sample_col]
    s = df.get_column(sample_col).cast(pl.Utf8).to_numpy()
    frame = pl.DataFrame({"_row": np.arange(df.height), "_nt": n[:, 0], "_nc": n[:, 1]}).hstack(df.select(keys))
    before = frame.filter(pl.Series(s == "before"))
    after = frame.filter(pl.Series(s == "after"))
    if before.is_empty() or after.is_empty():
        return out
    if before.select(keys).is_duplicated().any() if keys else before.height > 1:
        raise DataError(f"{_BAL}: several 'before' rows share the same labels {keys}; pass index= to identify rows")
    j = after.join(before, on=keys, how="inner", suffix="_b") if keys else after.join(before, how="cross", suffix="_b")
    rows = j.get_column("_row").to_numpy()
    for k, col in enumerate(("_nt", "_nc")):
        d = j.get_column(col + "_b").to_numpy() - j.get_column(col).to_numpy()
        out[rows[(d > 0) & (d < config.min_count)], k] = True
    return out
