"""Simulation studies (slow): CR1 interval coverage for TWFE, and wild-bootstrap size with 30 of 150 treated clusters.

Run with:  pytest tests/estimate/test_did_simulation.py -m slow -s   (figures are printed and recorded
in docs/validation/did.md).
"""
import numpy as np
import polars as pl
from scipy import stats
import pytest

from impact.estimate import did, fit_ols
from impact.estimate.absorb import factorize
from impact.estimate.wild import wild_bootstrap

pytestmark = pytest.mark.slow


def _cluster_panel(rng, n_clusters, n_treated, effect, periods=6, start=3):
    """Units nested in clusters of unequal size, cluster-by-period shocks, treatment assigned by cluster."""
    sizes = rng.integers(3, 15, n_clusters)
    cl_unit = np.repeat(np.arange(n_clusters), sizes)
    n_units = cl_unit.size
    unit = np.repeat(np.arange(n_units), periods)
    t = np.tile(np.arange(periods), n_units)
    keep = rng.random(unit.size) < 0.85  # unbalanced
    unit, t = unit[keep], t[keep]
    cl = cl_unit[unit]
    treated_cl = np.zeros(n_clusters, dtype=np.int64)
    treated_cl[rng.permutation(n_clusters)[:n_treated]] = 1
    d = treated_cl[cl]
    post = (t >= start).astype(np.int64)
    shock = rng.normal(scale=0.5, size=(n_clusters, periods))[cl, t]
    y = rng.normal(size=n_units)[unit] + 0.2 * t + effect * d * post + shock + rng.normal(size=unit.size)
    return pl.DataFrame({"unit": unit, "time": t, "cl": cl, "d": d, "post": post, "y": y})


def test_twfe_cr1_coverage():
    rng = np.random.default_rng(20240601)
    reps, effect, covered, est = 1000, 0.5, 0, []
    for _ in range(reps):
        df = _cluster_panel(rng, n_clusters=60, n_treated=20, effect=effect)
        t = did(df, "y", "d", "post", unit="unit", time="time", cluster="cl").terms[0]
        covered += t.ci_low <= effect <= t.ci_high
        est.append(t.estimate)
    coverage, bias = covered / reps, float(np.mean(est)) - effect
    print(f"\nTWFE CR1: reps={reps} clusters=60 coverage={coverage:.3f} bias={bias:+.4f} "
          f"(MC se {np.std(est) / np.sqrt(reps):.4f})")
    assert 0.93 <= coverage <= 0.97
    assert abs(bias) < 4 * np.std(est) / np.sqrt(reps)


def test_wild_bootstrap_size_30_of_150_treated_clusters():
    rng = np.random.default_rng(20240602)
    reps, reject_wild, reject_cr1 = 1000, 0, 0
    for i in range(reps):
        df = _cluster_panel(rng, n_clusters=150, n_treated=30, effect=0.0, periods=4, start=2)
        y = df["y"].to_numpy()
        x = (df["d"] * df["post"]).cast(pl.Float64).to_numpy()[:, None]
        fe = [factorize(df["unit"])[0], factorize(df["time"])[0]]
        cl = factorize(df["cl"])[0]
        fit = fit_ols(y, x, ["att"], fe=fe, cluster=[cl], keep_data=True)
        reject_cr1 += abs(fit.coef[0] / fit.std_errors()[0]) > stats.t.ppf(0.975, fit.df)
        boot = wild_bootstrap(fit.x, fit.y, cl, 0, reps=399, seed=i, interval=False)
        reject_wild += boot.p_value <= 0.05
    rate_wild, rate_cr1 = reject_wild / reps, reject_cr1 / reps
    print(f"\nnull rejection at 5%: reps={reps} G=150 treated=30 wild(WCR, Rademacher, B=399)={rate_wild:.3f} "
          f"CR1 t(G-1)={rate_cr1:.3f}")
    # MC sd of a 5% rate over 1000 replications is 0.7 points; allow 3 sd.
    assert 0.029 <= rate_wild <= 0.071


def test_wild_interval_coverage_few_treated_clusters():
    rng = np.random.default_rng(20240603)
    reps, effect, covered = 300, 0.5, 0
    for i in range(reps):
        df = _cluster_panel(rng, n_clusters=40, n_treated=6, effect=effect, periods=4, start=2)
        t = did(df, "y", "d", "post", unit="unit", time="time", cluster="cl", inference="wild",
                bootstrap_reps=399, seed=i).terms[0]
        covered += t.ci_low <= effect <= t.ci_high
    coverage = covered / reps
    print(f"\nwild test-inversion interval: reps={reps} clusters=40 treated=6 coverage={coverage:.3f}")
    # MC sd 1.3 points at 95%; allow 3 sd.
    assert 0.91 <= coverage <= 0.99
