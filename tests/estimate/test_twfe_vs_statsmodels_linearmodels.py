"""TWFE coefficients and HC1 / CR1 errors against statsmodels (explicit dummies) and linearmodels PanelOLS.

The maths is identical, so agreement is to 1e-8 relative. Small-sample conventions differ between
peers and are matched explicitly: statsmodels with dummies and linearmodels with count_effects=True
(and group_debias=True) count every fixed-effect level in k, which is our fe_dof="full".
"""
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from impact.estimate import fit_ols
from impact.estimate.absorb import factorize

from ._did_data import unbalanced_panel

RTOL = 1e-8


def _arrays(df):
    y = df["y"].to_numpy()
    x = np.column_stack([(df["treated"] * df["post"]).to_numpy(), df["x1"].to_numpy(), df["x2"].to_numpy()])
    return y, x.astype(float)


def _dummy_design(df, x):
    dummies = pd.get_dummies(
        pd.DataFrame({"u": df["unit"].cast(str).to_numpy(), "t": df["time"].cast(str).to_numpy()}), drop_first=True
    ).astype(float)
    return np.column_stack([x, np.ones(len(x)), dummies.to_numpy()])


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_cr1_and_hc1_match_statsmodels_dummies(seed, weighted):
    df = unbalanced_panel(seed=seed, n_units=150)
    y, x = _arrays(df)
    w = df["w"].to_numpy() if weighted else None
    fe = [factorize(df["unit"])[0], factorize(df["time"])[0]]
    cl = factorize(df["cluster"])[0]
    xx = _dummy_design(df, x)
    model = sm.WLS(y, xx, weights=w) if weighted else sm.OLS(y, xx)
    ref = model.fit(cov_type="cluster", cov_kwds={"groups": cl})
    ours = fit_ols(y, x, ["att", "x1", "x2"], fe=fe, cluster=[cl], weights=w, fe_dof="full")
    np.testing.assert_allclose(ours.coef, ref.params[:3], rtol=RTOL)
    np.testing.assert_allclose(ours.std_errors(), ref.bse[:3], rtol=RTOL)
    assert ours.df == 29  # G - 1, as statsmodels' t reference for clustered errors
    ref = model.fit(cov_type="HC1")
    ours = fit_ols(y, x, ["att", "x1", "x2"], fe=fe, vcov="robust", weights=w, fe_dof="full")
    np.testing.assert_allclose(ours.std_errors(), ref.bse[:3], rtol=RTOL)
    assert ours.k == xx.shape[1] == np.linalg.matrix_rank(xx)


def test_cr1_matches_linearmodels_panelols():
    from linearmodels.panel import PanelOLS

    df = unbalanced_panel(seed=3, n_units=200)
    y, x = _arrays(df)
    fe = [factorize(df["unit"])[0], factorize(df["time"])[0]]
    cl = factorize(df["cluster"])[0]
    pdf = pd.DataFrame({"y": y, "att": x[:, 0], "x1": x[:, 1], "x2": x[:, 2], "cl": cl},
                       index=pd.MultiIndex.from_arrays([df["unit"].to_numpy(), df["time"].to_numpy()]))
    res = PanelOLS(pdf["y"], pdf[["att", "x1", "x2"]], entity_effects=True, time_effects=True).fit(
        cov_type="clustered", clusters=pdf[["cl"]], group_debias=True, auto_df=False, count_effects=True
    )
    ours = fit_ols(y, x, ["att", "x1", "x2"], fe=fe, cluster=[cl], fe_dof="full")
    np.testing.assert_allclose(ours.coef, res.params.to_numpy(), rtol=RTOL)
    # linearmodels, debiased + group_debias + count_effects: n/(n-k) * G/(G-1) * (n-1)/n = our CR1 factor,
    # with the same k (checked through the residual degrees of freedom).
    assert res.df_resid == ours.n_obs - ours.k
    np.testing.assert_allclose(ours.std_errors(), res.std_errors.to_numpy(), rtol=RTOL)


def test_nonnested_rule_drops_fixed_effects_nested_in_clusters():
    df = unbalanced_panel(seed=4)
    y, x = _arrays(df)
    fe = [factorize(df["unit"])[0], factorize(df["time"])[0]]
    cl = factorize(df["cluster"])[0]  # units are nested in clusters
    full = fit_ols(y, x, ["att", "x1", "x2"], fe=fe, cluster=[cl], fe_dof="full")
    nested = fit_ols(y, x, ["att", "x1", "x2"], fe=fe, cluster=[cl])
    n_units = df["unit"].n_unique()
    assert full.k - nested.k == n_units - 1
    n = full.n_obs
    ratio = (n - full.k) / (n - nested.k)
    np.testing.assert_allclose(nested.std_errors() ** 2, full.std_errors() ** 2 * ratio, rtol=1e-12)
