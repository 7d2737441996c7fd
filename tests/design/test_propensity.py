"""The propensity model equals statsmodels' maximum-likelihood Logit/Probit."""
from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from impact.design import fit_propensity

from .simulate import COVARIATES, selection_on_observables


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_equals_statsmodels(link):
    df = selection_on_observables(1500, seed=3)
    X = df.select(COVARIATES).to_numpy()
    t = df["t"].to_numpy() == 1
    model = fit_propensity(X, t, link=link, names=COVARIATES)
    ref_cls = sm.Logit if link == "logit" else sm.Probit
    ref = ref_cls(t.astype(float), sm.add_constant(X)).fit(disp=0, tol=1e-14, maxiter=200, method="newton")
    np.testing.assert_allclose(model.coef, ref.params, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(model.score, ref.predict(), rtol=1e-8, atol=1e-12)


def test_collinear_column_dropped_and_reported():
    df = selection_on_observables(500, seed=4)
    X = df.select(COVARIATES).to_numpy()
    X = np.column_stack([X, 2 * X[:, 0] - X[:, 3]])
    model = fit_propensity(X, df["t"].to_numpy() == 1, link="logit", names=COVARIATES + ["combo"])
    assert model.dropped == ["combo"]
    ref = sm.Logit(df["t"].to_numpy().astype(float), sm.add_constant(X[:, :4])).fit(disp=0, tol=1e-14, method="newton")
    np.testing.assert_allclose(model.coef, ref.params, rtol=1e-8)
