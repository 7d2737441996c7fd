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


def merge_small_bins(
    df: pl.DataFrame, config: DisclosureConfig, *, edges: tuple[str, str] = ("bin_low", "bin_high")
) -> pl.DataFrame:
    """Merge adjacent bins (left to right, the last remainder into its neighbour) until every count
    column of every bin is >= min_count, so the histogram rule passes without hiding a bar.

    df: one row per bin with the two edge columns and numeric count columns (wide: one column
    per group). The merged edges lie on the original grid, so fixed edges stay fixed."""
    lo, hi = edges
    require_columns(df, [lo, hi], owner="merge_small_bins", role="bin edge column (pass edges=)")
    counts = [c for c, dt in df.schema.items() if c not in edges and dt.is_numeric()]
    t = df.sort(lo)
    x = count_matrix(t, counts, owner="merge_small_bins")
    low, high = t.get_column(lo).to_numpy(), t.get_column(hi).to_numpy()
    groups: list[list[int]] = []
    current: list[int] = []
    for i in range(t.height):
        current.append(i)
        if (x[current].sum(axis=0) >= config.min_count).all():
            groups.append(current)
            current = []
    if current:
        if groups:
            groups[-1] += current
        else:
            groups.append(current)
    return pl.DataFrame(
        {lo: [float(low[g[0]]) for g in groups], hi: [float(high[g[-1]]) for g in groups]}
        | {c: [int(x[g, j].sum()) for g in groups] for j, c in enumerate(counts)}
    )
