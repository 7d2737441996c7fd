"""Coverage and bias of att_gt (dr, panel) in repeated simulation: 3 cohorts + never treated.

Selection into cohorts and the outcome trends both depend on a covariate, so only the
covariate-adjusted comparison is unbiased; effects differ by cohort and exposure time.
Figures are recorded in docs/validation/staggered.md.
"""
from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from impact.estimate import att_gt

PERIODS = np.arange(1, 7)
COHORTS = np.array([0, 3, 4, 5])


def true_att(g: int, t: int) -> float:
    """Heterogeneous effect: grows with exposure, larger for earlier cohorts; 0 before treatment."""
    return 0.0 if t < g else 1.0 + 0.5 * (t - g) + 0.25 * (5 - g)


def cohort_logits(x: np.ndarray) -> np.ndarray:
    return np.column_stack([np.zeros_like(x), 0.2 + 0.6 * x, 0.1 - 0.4 * x, -0.1 + 0.3 * x**2 - 0.3])


def draw(rng: np.random.Generator, n: int) -> pl.DataFrame:
    x = rng.normal(size=n)
    logits = cohort_logits(x)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    g = COHORTS[(rng.uniform(size=(n, 1)) > p.cumsum(axis=1)).sum(axis=1)]
    alpha = x + rng.normal(size=n)
    effect = np.array([[true_att(gi, t) if gi else 0.0 for t in PERIODS] for gi in COHORTS])
    gi = np.searchsorted(COHORTS, g)
    y = alpha[:, None] + (0.5 * x)[:, None] * PERIODS[None, :] + effect[gi] + rng.normal(size=(n, PERIODS.size))
    return pl.DataFrame({
        "id": np.repeat(np.arange(n), PERIODS.size), "t": np.tile(PERIODS, n), "y": y.ravel(),
        "g": np.repeat(g, PERIODS.size), "x": np.repeat(x, PERIODS.size),
    })


def population_shares(n: int = 2_000_000, seed: int = 99) -> dict[int, float]:
    x = np.random.default_rng(seed).normal(size=n)
    logits = cohort_logits(x)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return dict(zip(COHORTS.tolist(), p.mean(axis=0)))


@pytest.mark.slow
def test_coverage_pointwise_simultaneous_and_simple():
    reps, n, seed = 1000, 1500, 20240601
    rng = np.random.default_rng(seed)
    shares = population_shares()
    post = [(g, t) for g in (3, 4, 5) for t in PERIODS if t >= g]
    simple_truth = sum(shares[g] * true_att(g, t) for g, t in post) / sum(shares[g] for g, _ in post)
    hits, sim_hits, errs, s_hit, s_err = [], [], [], [], []
    for r in range(reps):
        res = att_gt(draw(rng, n), "y", "id", "t", "g", covariates="x", method="dr", seed=r, bootstrap_reps=499)
        truth = np.array([true_att(t.extra["group"], t.extra["time"]) for t in res.terms])
        lo, hi = np.array([t.ci_low for t in res.terms]), np.array([t.ci_high for t in res.terms])
        clo = np.array([t.extra["cband_low"] for t in res.terms])
        chi = np.array([t.extra["cband_high"] for t in res.terms])
        hits.append((lo <= truth) & (truth <= hi))
        sim_hits.append(bool(np.all((clo <= truth) & (truth <= chi))))
        errs.append(np.array([t.estimate for t in res.terms]) - truth)
        s = res.aggregate("simple").terms[0]
        s_hit.append(s.ci_low <= simple_truth <= s.ci_high)
        s_err.append(s.estimate - simple_truth)
    hits, errs = np.array(hits), np.array(errs)
    print(f"\nreps={reps} n={n} seed={seed} cells={hits.shape[1]}")
    print("pointwise coverage per cell:", np.round(hits.mean(axis=0), 3).tolist())
    print(f"pointwise coverage pooled: {hits.mean():.4f}; min cell {hits.mean(axis=0).min():.3f}, "
          f"max cell {hits.mean(axis=0).max():.3f}")
    print(f"max |bias| over cells: {np.abs(errs.mean(axis=0)).max():.4f} (mean SD {errs.std(axis=0).mean():.4f})")
    print(f"simultaneous band coverage: {np.mean(sim_hits):.4f}")
    print(f"simple: coverage {np.mean(s_hit):.4f}, bias {np.mean(s_err):.4f}, sd {np.std(s_err):.4f}")
    assert 0.93 <= hits.mean() <= 0.97
    assert np.all((hits.mean(axis=0) >= 0.92) & (hits.mean(axis=0) <= 0.98))  # 1000 reps: MC sd 0.007
    assert 0.93 <= np.mean(s_hit) <= 0.97
    assert 0.93 <= np.mean(sim_hits) <= 0.97
    assert np.abs(errs.mean(axis=0)).max() < 4 * errs.std(axis=0).max() / np.sqrt(reps)
