"""Wild cluster restricted bootstrap against brute force: all 2^G Rademacher draws, each refitted by OLS."""
from itertools import product

import numpy as np
import polars as pl
import pytest

from impact.estimate import did
from impact.estimate.wild import wild_bootstrap


def _cr1_t(x, y, cl, j, r):
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    a = np.linalg.inv(x.T @ x)
    e = y - x @ beta
    s = np.array([x[cl == g].T @ e[cl == g] for g in np.unique(cl)])
    v = a @ s.T @ s @ a
    return (beta[j] - r) / np.sqrt(v[j, j])


def _brute_p(x, y, cl, j, r):
    """WCR by definition: impose beta_j = r, rebuild y* for every sign vector, refit, compare |t|."""
    xo = np.delete(x, j, axis=1)
    yr = y - r * x[:, j]
    bo, *_ = np.linalg.lstsq(xo, yr, rcond=None)
    fitted, u = xo @ bo + r * x[:, j], yr - xo @ bo
    t = _cr1_t(x, y, cl, j, r)
    groups = np.unique(cl)
    t_star = [_cr1_t(x, fitted + np.array(v)[np.searchsorted(groups, cl)] * u, cl, j, r)
              for v in product((-1.0, 1.0), repeat=groups.size)]
    return np.mean(np.abs(t_star) >= abs(t) - 1e-12)


@pytest.fixture
def tiny():
    rng = np.random.default_rng(11)
    g = 7
    cl = np.repeat(np.arange(g), 12)
    d = (cl < 3).astype(float)
    p = np.tile(np.r_[np.zeros(6), np.ones(6)], g)
    y = 0.4 * d * p + 0.2 * d + 0.1 * p + rng.normal(size=g)[cl] + rng.normal(size=cl.size)
    x = np.column_stack([d * p, np.ones_like(y), d, p])
    return x, y, cl


def test_enumerated_p_value_equals_brute_force(tiny):
    x, y, cl = tiny
    res = wild_bootstrap(x, y, cl, 0, reps=999)
    assert res.enumerated and res.reps == 2**7
    assert res.p_value == pytest.approx(_brute_p(x, y, cl, 0, 0.0), abs=1e-12)


def test_interval_is_the_test_inversion(tiny):
    x, y, cl = tiny
    res = wild_bootstrap(x, y, cl, 0, reps=999)
    for bound, inward in ((res.ci_low, +1), (res.ci_high, -1)):
        eps = 1e-4
        assert _brute_p(x, y, cl, 0, bound + inward * eps) > 0.05
        assert _brute_p(x, y, cl, 0, bound - inward * eps) <= 0.05


def test_weighted_bootstrap_equals_scaled_unweighted(tiny):
    x, y, cl = tiny
    w = np.random.default_rng(0).uniform(0.5, 2, y.size)
    a = wild_bootstrap(x, y, cl, 0, weights=w, reps=999)
    sw = np.sqrt(w)
    b = wild_bootstrap(x * sw[:, None], y * sw, cl, 0, reps=999)
    assert a.p_value == b.p_value and a.ci_low == pytest.approx(b.ci_low, rel=1e-9)


def test_did_wild_is_seeded_and_reports_draws(tiny):
    x, y, cl = tiny
    df = pl.DataFrame({"y": y, "d": x[:, 2], "p": x[:, 3], "cl": np.repeat(np.arange(7), 12) % 7})
    df = pl.concat([df] * 2).with_columns(pl.col("cl") + pl.int_range(pl.len()) // 84 * 7)  # 14 clusters
    a = did(df, "y", "d", "p", cluster="cl", inference="wild_webb", bootstrap_reps=499, seed=3)
    b = did(df, "y", "d", "p", cluster="cl", inference="wild_webb", bootstrap_reps=499, seed=3)
    assert a.tidy().equals(b.tidy()) and a.info["bootstrap_reps"] == 499 and not a.info["bootstrap_enumerated"]
    t = a.terms[0]
    assert t.ci_low < t.estimate < t.ci_high and 0 < t.p_value <= 1
