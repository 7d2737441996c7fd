"""Coarsened exact matching (CEM) and exact matching: subclasses from (coarsened) covariate values.

Coarsening: a numeric covariate is cut into equal-width bins over its observed range; the
number of bins is Sturges' rule ceil(log2(n) + 1) unless `bins` gives an int (all numeric
covariates) or a dict {column: int | list of cut points}. Categorical covariates and `exact`
columns are kept as they are. A subclass is a cell of the coarsened covariates holding at
least one treated and one comparison unit; units in other cells are discarded (weight 0).

Weights (MatchIt's subclassification weights), with n_t(s), n_c(s) the counts in cell s:
ATT: treated 1; comparison n_t(s) / n_c(s). ATC: comparison 1; treated n_c(s) / n_t(s).
ATE: treated n(s) / n_t(s), comparison n(s) / n_c(s). Each group's weights are then scaled to
sum to its number of matched units.
"""
from __future__ import annotations

import math

import numpy as np
import polars as pl

from ..errors import ParameterError
from ._prepare import _is_categorical, strata_codes


def coarsen(df: pl.DataFrame, covariates: list[str], exact: list[str], *, bins, notes: list[str]) -> np.ndarray:
    """Cell id per row from the coarsened covariates (bins='exact' keeps all values)."""
    if isinstance(bins, bool) or not (bins is None or isinstance(bins, (int, dict)) or bins == "exact"):
        raise ParameterError(f"The 'bins' parameter of match must be an int, a dict of column -> int or cut points, or None. Got {bins!r} instead.")
    if isinstance(bins, dict):
        unknown = [k for k in bins if k not in covariates]
        if unknown:
            raise ParameterError(f"The 'bins' parameter of match names column(s) {unknown} that are not covariates.")
    cols = []
    auto = []
    for c in covariates:
        s = df.get_column(c)
        if bins == "exact" or _is_categorical(s.dtype):
            cols.append(s.alias(c))
            continue
        spec = bins.get(c) if isinstance(bins, dict) else bins
        x = s.cast(pl.Float64).to_numpy()
        if spec is None:
            spec = math.ceil(math.log2(x.size) + 1)
            auto.append(c)
        if isinstance(spec, int) and not isinstance(spec, bool):
            if spec < 1:
                raise ParameterError(f"The 'bins' parameter of match must give at least 1 bin for '{c}'. Got {spec!r} instead.")
            lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
            edges = np.linspace(lo, hi, spec + 1)[1:-1]
        else:
            edges = np.sort(np.asarray(spec, dtype=np.float64))
        cols.append(pl.Series(c, np.searchsorted(edges, x, side="right")))
    if auto:
        notes.append(f"cem bins: Sturges' rule (equal-width bins over the observed range) for {auto}")
    frame = pl.DataFrame(cols).with_columns(df.select(exact)) if exact else pl.DataFrame(cols)
    return strata_codes(frame, list(frame.columns))


def subclass_weights(cells: np.ndarray, treated: np.ndarray, estimand: str) -> tuple[np.ndarray, np.ndarray]:
    """Weights and subclass ids (-1 for discarded units) from cell ids."""
    K = int(cells.max()) + 1
    nt = np.bincount(cells[treated], minlength=K).astype(np.float64)
    nc = np.bincount(cells[~treated], minlength=K).astype(np.float64)
    keep = (nt > 0) & (nc > 0)
    kept_row = keep[cells]
    with np.errstate(divide="ignore", invalid="ignore"):
        if estimand == "ATT":
            wt, wc = np.ones(K), nt / nc
        elif estimand == "ATC":
            wt, wc = nc / nt, np.ones(K)
        else:
            wt, wc = (nt + nc) / nt, (nt + nc) / nc
    w = np.where(treated, wt[cells], wc[cells])
    w = np.where(kept_row, w, 0.0)
    for g in (treated, ~treated):
        m = g & kept_row
        if m.any():
            w[m] *= m.sum() / w[m].sum()
    new_id = np.cumsum(keep) - 1
    subclass = np.where(kept_row, new_id[cells], -1).astype(np.int64)
    return w, subclass
