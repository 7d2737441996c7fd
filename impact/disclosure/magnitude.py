"""Magnitude tables: means, sums and rates per cell with the unweighted n behind each.

Input layout (one row per cell): label columns, statistic columns, the count column `n`,
and optionally the contributions summary that magnitude_table() computes:
  sdc_total (sum of |contributions|), sdc_top (list of the largest |contributions|, descending),
  sdc_negative (number of negative contributions). These sdc_* columns are never released.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from ..errors import DataError
from ..frame import require_columns
from . import rules as R
from ._columns import block_extremes, count_matrix, label_columns, positions
from .checked import Findings
from .config import DisclosureConfig
from .suppression import protect

_OWNER = "check_table(kind='magnitude')"
SUPPORT_COLUMNS = ("sdc_total", "sdc_top", "sdc_negative")


def check_magnitude(
    df: pl.DataFrame,
    config: DisclosureConfig,
    f: Findings,
    *,
    index: str | Sequence[str] | None = None,
    n_col: str = "n",
    dominance: bool = True,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Threshold on n, N-k and p% dominance, negative contributions, secondary suppression of rows.

    dominance=False declares that dominance cannot arise (e.g. proportions of 0/1 outcomes) and
    is recorded as a comment; otherwise missing sdc_* columns send the table to review.
    """
    require_columns(df, [n_col], owner=_OWNER, role="count column (pass n_col=)")
    support = [c for c in SUPPORT_COLUMNS if c in df.columns]
    n = count_matrix(df, [n_col], owner=_OWNER)[:, 0]
    out = df.drop(support)
    labels = label_columns(out, index, owner=_OWNER)
    candidates = [c for c in out.columns if c not in labels and c != n_col]
    blocked = block_extremes(out, candidates, config, f)
    stat_cols = [c for c in candidates if c not in blocked]
    hide_cols = positions(out, stat_cols + [n_col])
    rows_thr = R.below_threshold(n, config)
    rows_zero = R.disclosive_zero(n, config)
    rows_nk = rows_p = np.zeros(n.size, bool)
    stat_pos = positions(out, stat_cols)
    if dominance and set(SUPPORT_COLUMNS) <= set(support):
        top, total, negative = _contributions(df, config)
        rows_nk = R.nk_dominated(top, total, config) & ~rows_thr & ~rows_zero
        rows_p = R.p_ratio_fails(top, total, config) & ~rows_thr & ~rows_zero
        f.flag(R.NEGATIVE, np.flatnonzero(negative > 0), stat_pos)
    elif dominance:
        f.flag(R.DOMINANCE_UNKNOWN, range(out.height), stat_pos)
    else:
        f.comments.append("Dominance (N-k, p%) declared not applicable by the caller (dominance=False)")
    primary = rows_thr | rows_zero | rows_nk | rows_p
    prot = protect(n[:, None], primary[:, None], lambda v: R.unsafe_count(v, config))
    for check, rows in ((R.THRESHOLD, rows_thr), (R.ZEROS, rows_zero), (R.NK, rows_nk), (R.P_RATIO, rows_p)):
        f.flag(check, np.flatnonzero(rows), hide_cols)
    f.flag(R.SECONDARY, np.flatnonzero(prot.secondary[:, 0]), hide_cols)
    f.flag(R.UNPROTECTED, np.flatnonzero(prot.unprotected[:, 0]), hide_cols)
    if prot.total:
        f.comments.append(
            f"The total of '{n_col}' is below {config.min_count}: do not release it in any other output"
        )
    return out, {"rows": out.height, "statistics": stat_cols, "n_col": n_col}


def _contributions(df: pl.DataFrame, config: DisclosureConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(top |contributions| padded to max(nk_n, 2) columns, totals, negative counts) per row."""
    width = max(config.nk_n, 2)
    tops = df.get_column("sdc_top").to_list()
    top = np.zeros((len(tops), width))
    for i, values in enumerate(tops):
        v = sorted((abs(float(t)) for t in (values or [])), reverse=True)[:width]
        top[i, : len(v)] = v
    total = df.get_column("sdc_total").cast(pl.Float64).fill_null(0.0).to_numpy()
    negative = df.get_column("sdc_negative").cast(pl.Int64).fill_null(0).to_numpy()
    if np.any(top.sum(axis=1) > total * (1 + 1e-9) + 1e-9):
        raise DataError(
            f"{_OWNER}: sdc_top exceeds sdc_total in some rows; sdc_total must be the sum of absolute "
            "contributions (build the table with magnitude_table)"
        )
    return top, total, negative
