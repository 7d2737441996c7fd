"""Histogram and overlap tables: bins with counts; small bins fail, outer edges are opened."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from ..errors import ParameterError
from ..frame import require_columns, require_numeric
from . import rules as R
from ._columns import block_extremes, count_matrix, label_columns, positions
from .checked import Findings
from .config import DisclosureConfig

_OWNER = "check_table(kind='histogram')"


def check_histogram(
    df: pl.DataFrame,
    config: DisclosureConfig,
    f: Findings,
    *,
    index: str | Sequence[str] | None = None,
    edges: tuple[str, str] = ("bin_low", "bin_high"),
    fixed_edges: bool = False,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Every bin count must be >= min_count (and non-zero while zeros are disclosive), else the
    table fails: suppressing bins of a plot is not a mitigation, coarser bins are. Unless the
    caller declares the edges fixed in advance (fixed_edges=True), the outermost edges of each
    group (label columns) are set to -inf / +inf, since data-driven edges are the raw min and max."""
    lo, hi = edges
    require_columns(df, [lo, hi], owner=_OWNER, role="bin edge column (pass edges=)")
    require_numeric(df, [lo, hi], owner=_OWNER, role="bin edge column")
    labels = label_columns(df, index, owner=_OWNER)
    blocked = block_extremes(df, [c for c in df.columns if c not in labels and c not in edges], config, f)
    count_cols = [c for c in df.columns if c not in labels and c not in edges and c not in blocked]
    if not count_cols:
        raise ParameterError(f"{_OWNER}: no count columns besides the edges {list(edges)} and labels {labels}")
    x = count_matrix(df, count_cols, owner=_OWNER)
    cols = positions(df, count_cols)
    f.flag_mask(R.THRESHOLD, R.below_threshold(x, config), cols)
    f.flag_mask(R.ZEROS, R.disclosive_zero(x, config), cols)
    f.failing.update({R.THRESHOLD, R.ZEROS})
    out = df.with_columns(pl.col(lo, hi).cast(pl.Float64))
    if not fixed_edges:
        over = labels or None
        first = (pl.col(lo) == pl.col(lo).min().over(over)) if over else (pl.col(lo) == pl.col(lo).min())
        last = (pl.col(hi) == pl.col(hi).max().over(over)) if over else (pl.col(hi) == pl.col(hi).max())
        flags = out.select(first.alias("a"), last.alias("b"))
        a, b = flags.get_column("a").to_numpy(), flags.get_column("b").to_numpy()
        out = out.with_columns(
            pl.when(pl.lit(pl.Series(a))).then(-np.inf).otherwise(pl.col(lo)).alias(lo),
            pl.when(pl.lit(pl.Series(b))).then(np.inf).otherwise(pl.col(hi)).alias(hi),
        )
        f.flag(R.EDGES, np.flatnonzero(a), positions(out, [lo]))
        f.flag(R.EDGES, np.flatnonzero(b), positions(out, [hi]))
        f.exceptions.append("Outer bin edges automatically opened to -inf/inf")
    return out, {"rows": df.height, "count_columns": count_cols, "fixed_edges": fixed_edges}
