"""Simulated data with selection on observables and a known, constant ATT (shared by tests)."""
from __future__ import annotations

import numpy as np
import polars as pl

COVARIATES = ["x1", "x2", "x3", "x4"]


def selection_on_observables(n: int, seed: int, att: float = 1.0) -> pl.DataFrame:
    """Treatment depends on x1..x4 through a logit; the outcome depends on them too; effect = `att`."""
    rng = np.random.default_rng(seed)
    x1, x2, x3 = rng.normal(size=(3, n))
    x4 = (rng.random(n) < 0.4).astype(float)
    lin = -1.0 + 0.6 * x1 - 0.4 * x2 + 0.3 * x3 + 0.5 * x4
    t = (rng.random(n) < 1 / (1 + np.exp(-lin))).astype(int)
    y = 1.0 + att * t + x1 + 0.5 * x2 + 0.5 * x3 + 0.5 * x4 + rng.normal(size=n)
    school = rng.integers(0, n // 20, n)
    return pl.DataFrame({"t": t, "x1": x1, "x2": x2, "x3": x3, "x4": x4, "y": y, "school": school})
