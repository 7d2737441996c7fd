"""Simulated panels for the DiD / TWFE / event-study tests (random unbalanced, planted effects)."""
from __future__ import annotations

import numpy as np
import polars as pl


def unbalanced_panel(
    seed: int = 0,
    n_units: int = 300,
    n_periods: int = 8,
    n_clusters: int = 30,
    keep: float = 0.75,
    effect: float = 1.0,
    start: int = 4,
) -> pl.DataFrame:
    """Units in clusters (treatment assigned by cluster), random missing unit-periods, effect from `start`."""
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), n_periods)
    t = np.tile(np.arange(n_periods), n_units)
    rows = rng.random(unit.size) < keep
    unit, t = unit[rows], t[rows]
    cl = unit % n_clusters
    treated_cl = rng.permutation(n_clusters)[: n_clusters // 3]
    d = np.isin(cl, treated_cl).astype(np.int64)
    post = (t >= start).astype(np.int64)
    a_u = rng.normal(size=n_units)[unit] + 0.5 * d
    g_t = 0.3 * t
    c_shock = rng.normal(scale=0.5, size=(n_clusters, n_periods))[cl, t]
    x1 = rng.normal(size=unit.size) + 0.2 * a_u
    x2 = rng.normal(size=unit.size) + 0.1 * t
    y = a_u + g_t + effect * d * post + 0.5 * x1 - 0.25 * x2 + c_shock + rng.normal(size=unit.size)
    w = rng.uniform(0.5, 2.0, size=unit.size)
    return pl.DataFrame(
        {"unit": unit, "time": t, "cluster": cl, "treated": d, "post": post, "y": y, "x1": x1, "x2": x2, "w": w,
         "region": cl % 4}
    )
