"""Covariate balance statistics, defined once (cobalt/MatchIt conventions).

For each covariate (categorical covariates: one 0/1 column per level), before (all rows,
unit weights) and after (design weights):

- mean_treated, mean_comparison: weighted means.
- smd: (mean_treated - mean_comparison) / s, where s is fixed from the UNADJUSTED sample so
  that before and after are on the same scale: the treated SD for the ATT, the comparison SD
  for the ATC, sqrt((var_treated + var_comparison) / 2) for the ATE.
- variance_ratio: weighted variance treated / weighted variance comparison, with the
  weighted variance sum(w (x - m)^2) / (sum(w) - sum(w^2) / sum(w)) (the n - 1 variance
  when all weights are 1).
- ecdf_max: the largest absolute difference between the weighted empirical CDFs of the two
  groups (the Kolmogorov-Smirnov statistic).
- n_treated, n_comparison: unweighted counts of rows with positive weight in the sample (the n
  behind each mean, which disclosure control checks).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl


def weighted_mean_var(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted mean and the reliability-weighted variance described in the module docstring."""
    sw = w.sum()
    m = float(np.dot(w, x) / sw)
    denom = sw - np.dot(w, w) / sw
    v = float(np.dot(w, (x - m) ** 2) / denom) if denom > 0 else float("nan")
    return m, v


def ecdf_gaps(x: np.ndarray, signed: list[np.ndarray]) -> list[float]:
    """Max |F_t - F_c| for each signed weight vector (w / sum w_t on treated rows, -w / sum w_c on
    comparison rows, 0 on unused rows), from one sort of x; curves compared at the end of tied runs.
    0/1 columns need no sort: the gap is |share of 1s treated - share of 1s comparison|."""
    is_one = x == 1.0
    if np.all(is_one | (x == 0.0)):
        return [float(abs(sw[is_one].sum())) for sw in signed]
    o = np.argsort(x)
    xs = x[o]
    last_of_run = np.ones(xs.size, bool)
    last_of_run[:-1] = xs[1:] != xs[:-1]
    return [float(np.max(np.abs(np.cumsum(sw[o])[last_of_run]))) for sw in signed]


def balance_table(
    B: np.ndarray, names: list[str], treated: np.ndarray, weights: np.ndarray, estimand: str
) -> pl.DataFrame:
    """Long balance table: one row per covariate and sample ('before', 'after')."""
    samples = []
    for sample, w in (("before", np.ones(treated.size)), ("after", np.asarray(weights, dtype=np.float64))):
        it = np.flatnonzero(treated & (w > 0))
        ic = np.flatnonzero(~treated & (w > 0))
        signed = np.where(treated, w / w[it].sum(), -w / w[ic].sum())
        samples.append((sample, it, ic, w[it], w[ic], signed))
    counts = {smp[0]: (smp[1].size, smp[2].size) for smp in samples}
    def column(j: int):
        x = B[:, j]
        stats = [(smp[0], *weighted_mean_var(x[smp[1]], smp[3]), *weighted_mean_var(x[smp[2]], smp[4])) for smp in samples]
        return stats, ecdf_gaps(x, [smp[5] for smp in samples])

    # numpy's sorts release the GIL: columns are summarised on all cores
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        per_column = list(pool.map(column, range(len(names))))
    rows = []
    for name, (stats, gaps) in zip(names, per_column):
        _, _, var_t0, _, var_c0 = stats[0]
        s = {"ATT": np.sqrt(var_t0), "ATC": np.sqrt(var_c0)}.get(estimand, np.sqrt((var_t0 + var_c0) / 2))
        for (sample, mt, vt, mc, vc), ks in zip(stats, gaps):
            smd = (mt - mc) / s if s > 0 else float("nan")
            rows.append((name, sample, mt, mc, smd, vt / vc if vc > 0 else float("nan"), ks, *counts[sample]))
    return pl.DataFrame(
        rows,
        schema={
            "covariate": pl.Utf8,
            "sample": pl.Utf8,
            "mean_treated": pl.Float64,
            "mean_comparison": pl.Float64,
            "smd": pl.Float64,
            "variance_ratio": pl.Float64,
            "ecdf_max": pl.Float64,
            "n_treated": pl.Int64,
            "n_comparison": pl.Int64,
        },
        orient="row",
    )
