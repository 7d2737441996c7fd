"""did() against pyfixest (coefficients, CR1, two-way clustering) and wildboottest (WCR p-values).

pyfixest's default small-sample rule ("nonnested": fixed effects nested in a cluster dimension are
not counted in k; (n-1)/(n-k) * G/(G-1), G = min over dimensions) is did()'s rule, so agreement is
to 1e-8 relative once pyfixest's alternating projections are run to a tight tolerance.
"""
import numpy as np
import pandas as pd
import polars as pl
import pytest
import statsmodels.api as sm

from impact.estimate import did

from ._did_data import unbalanced_panel

pytestmark = pytest.mark.peers


def _pyfixest_fit(df, vcov, weights=None):
    pf = pytest.importorskip("pyfixest")
    pdf = df.with_columns((pl.col("treated") * pl.col("post")).alias("att")).to_pandas()
    return pf.feols("y ~ att + x1 + x2 | unit + time", data=pdf, vcov=vcov, weights=weights, fixef_rm="singleton",
                     fixef_tol=1e-12)  # our demeaning is exact; make pyfixest's iterations converge fully


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_twfe_cr1_matches_pyfixest(seed, weighted):
    df = unbalanced_panel(seed=seed, n_units=400)
    ref = _pyfixest_fit(df, {"CRV1": "cluster"}, weights="w" if weighted else None)
    res = did(df, "y", "treated", "post", unit="unit", time="time", covariates=["x1", "x2"], cluster="cluster",
              weights="w" if weighted else None)
    t = res.terms[0]
    assert t.estimate == pytest.approx(ref.coef()["att"], rel=1e-8)
    assert t.std_error == pytest.approx(ref.se()["att"], rel=1e-8)
    assert t.p_value == pytest.approx(ref.pvalue()["att"], rel=1e-6)


def test_hc1_matches_pyfixest():
    df = unbalanced_panel(seed=4, n_units=400)
    ref = _pyfixest_fit(df, "hetero")
    res = did(df, "y", "treated", "post", unit="unit", time="time", covariates=["x1", "x2"], inference="robust")
    assert res.std_error == pytest.approx(ref.se()["att"], rel=1e-8)


def test_two_way_clustering_matches_pyfixest():
    df = unbalanced_panel(seed=5, n_units=400)
    df = df.with_columns(pl.Series("rc", np.random.default_rng(1).integers(0, 25, df.height)))
    ref = _pyfixest_fit(df, {"CRV1": "cluster+rc"})
    res = did(df, "y", "treated", "post", unit="unit", time="time", covariates=["x1", "x2"],
              cluster=["cluster", "rc"])
    assert res.estimate == pytest.approx(ref.coef()["att"], rel=1e-8)
    assert res.std_error == pytest.approx(ref.se()["att"], rel=1e-8)


@pytest.mark.parametrize("weight_type,inference", [("rademacher", "wild"), ("webb", "wild_webb")])
def test_wild_p_value_matches_wildboottest(weight_type, inference):
    wbt = pytest.importorskip("wildboottest.wildboottest")
    df = unbalanced_panel(seed=9, n_units=300, effect=0.15)
    reps = 19_999
    res = did(df, "y", "treated", "post", cluster="cluster", inference=inference, bootstrap_reps=reps, seed=1)
    d, p = df["treated"].to_numpy(), df["post"].to_numpy()
    x = pd.DataFrame({"att": d * p, "const": 1.0, "d": d, "p": p})
    model = sm.OLS(df["y"].to_numpy(), x)
    table = wbt.wildboottest(model, B=reps, cluster=df["cluster"].to_numpy(), param="att",
                             weights_type=weight_type, seed=2, show=False, parallel=False)
    p_ref = float(table["p-value"].iloc[0])
    # Two independent bootstraps of B draws each: sd of the difference is sqrt(2 p (1-p) / B); allow 4 sd.
    mc = 4 * np.sqrt(2 * p_ref * (1 - p_ref) / reps)
    print(f"\n{weight_type}: impact p={res.terms[0].p_value:.4f} wildboottest p={p_ref:.4f} (B={reps}, 4 MC sd={mc:.4f})")
    assert 0.02 < p_ref < 0.98
    assert abs(res.terms[0].p_value - p_ref) < mc
