"""weight(): IPW and entropy balancing against hand computations; estimating equations checked numerically."""
from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm
from scipy import special

from impact.design import weight
from impact.errors import ParameterError

from .simulate import COVARIATES, selection_on_observables


@pytest.fixture(scope="module")
def df():
    return selection_on_observables(1500, seed=21)


def _logit_ps(df):
    X = sm.add_constant(df.select(COVARIATES).to_numpy())
    return sm.Logit(df["t"].to_numpy().astype(float), X).fit(disp=0, tol=1e-14, method="newton").predict()


def test_ipw_att_weights_and_estimate_by_hand(df):
    w = weight(df, "t", COVARIATES)
    e = _logit_ps(df)
    t = df["t"].to_numpy() == 1
    y = df["y"].to_numpy()
    odds = e / (1 - e)
    expected = np.where(t, 1.0, odds * (~t).sum() / odds[~t].sum())
    np.testing.assert_allclose(w.weights, expected, rtol=1e-8)
    att = y[t].mean() - np.sum(odds[~t] * y[~t]) / odds[~t].sum()
    assert w.effect("y").estimate == pytest.approx(att, rel=1e-9)


def test_ipw_ate_by_hand(df):
    w = weight(df, "t", COVARIATES, estimand="ATE")
    e = _logit_ps(df)
    t = df["t"].to_numpy() == 1
    y = df["y"].to_numpy()
    ate = np.sum(y[t] / e[t]) / np.sum(1 / e[t]) - np.sum(y[~t] / (1 - e[~t])) / np.sum(1 / (1 - e[~t]))
    assert w.effect("y").estimate == pytest.approx(ate, rel=1e-9)


def test_trim_truncates_scores(df):
    w = weight(df, "t", COVARIATES, trim=0.2)
    e = np.clip(_logit_ps(df), 0.2, 0.8)
    t = df["t"].to_numpy() == 1
    odds = e / (1 - e)
    np.testing.assert_allclose(w.weights[~t], odds[~t] * (~t).sum() / odds[~t].sum(), rtol=1e-8)
    assert any("truncated" in n for n in w.notes)


def _numeric_jacobian(f, x, h=1e-6):
    cols = []
    for j in range(x.size):
        step = np.zeros(x.size)
        step[j] = h
        cols.append((f(x + step) - f(x - step)) / (2 * h))
    return np.column_stack(cols)


@pytest.mark.parametrize("estimand", ["ATT", "ATE"])
def test_ipw_equations_match_numerical_derivatives(df, estimand):
    w = weight(df, "t", COVARIATES, estimand=estimand)
    m = w.model
    beta = np.asarray(w.propensity.coef)
    t = m.treated.astype(float)

    def score_sum(b):
        return m.Z.T @ (t - special.expit(m.Z @ b))

    def weights(b):
        e = special.expit(m.Z @ b)
        raw = np.where(m.treated, 1.0, e / (1 - e)) if estimand == "ATT" else np.where(m.treated, 1 / e, 1 / (1 - e))
        return m.scale * raw

    psi, jac, dw = m.equations()
    np.testing.assert_allclose(psi.sum(axis=0), 0, atol=1e-8)
    np.testing.assert_allclose(jac, _numeric_jacobian(score_sum, beta), rtol=1e-5, atol=1e-5)
    idx = np.arange(0, df.height, 97)
    np.testing.assert_allclose(dw[idx], _numeric_jacobian(lambda b: weights(b)[idx], beta), rtol=1e-5, atol=1e-8)


def test_entropy_balances_means_exactly_and_equations(df):
    w = weight(df, "t", COVARIATES, method="entropy")
    t = df["t"].to_numpy() == 1
    X = df.select(COVARIATES).to_numpy()
    np.testing.assert_allclose(np.average(X[~t], axis=0, weights=w.weights[~t]), X[t].mean(axis=0), atol=1e-9)
    after = w.balance().filter(pl.col("sample") == "after")
    assert after["smd"].abs().max() < 1e-8
    m = w.model
    p = m.C.shape[1]
    K = np.exp(-m.lam @ m.mu)

    def psi_sum(theta):
        mu, lam = theta[:p], theta[p:]
        r = np.where(m.treated, 0.0, np.exp(m.C @ lam) * K)
        return np.concatenate([((m.C - mu) * t[:, None]).sum(axis=0), ((m.C - mu) * r[:, None]).sum(axis=0)])

    _, jac, _ = m.equations()
    np.testing.assert_allclose(jac, _numeric_jacobian(psi_sum, np.concatenate([m.mu, m.lam])), rtol=1e-5, atol=1e-5)


def test_entropy_variances(df):
    w = weight(df, "t", COVARIATES, method="entropy", moments=2)
    b = w.balance().filter(pl.col("sample") == "after", pl.col("covariate").is_in(["x1", "x2", "x3"]))
    # second moments balanced -> weighted variances equal up to the n-1 style correction
    np.testing.assert_allclose(b["variance_ratio"].to_numpy(), 1.0, atol=0.02)
    assert b["smd"].abs().max() < 1e-8


def test_aipw_by_hand(df):
    w = weight(df, "t", COVARIATES)
    t = df["t"].to_numpy() == 1
    y = df["y"].to_numpy()
    X = sm.add_constant(df.select(COVARIATES).to_numpy())
    gamma = np.linalg.lstsq(X[~t], y[~t], rcond=None)[0]
    r = y - X @ gamma
    e = _logit_ps(df)
    odds = e / (1 - e)
    expected = r[t].mean() - np.sum(odds[~t] * r[~t]) / odds[~t].sum()
    res = w.aipw("y")
    assert res.estimate == pytest.approx(expected, rel=1e-9)
    assert abs(res.estimate - 1.0) < 3 * res.std_error


def test_effect_cluster_and_errors(df):
    w = weight(df, "t", COVARIATES)
    r = w.effect("y", cluster="school")
    assert r.terms[0].n_clusters == df["school"].n_unique()
    with pytest.raises(ParameterError, match=r"'method' parameter of weight must be one of 'ipw', 'entropy'"):
        weight(df, "t", COVARIATES, method="cbps")
    with pytest.raises(ParameterError, match=r"'trim' parameter of weight must be a float in \(0, 0.5\)"):
        weight(df, "t", COVARIATES, trim=0.7)
    with pytest.raises(ParameterError, match=r"estimand"):
        weight(df, "t", COVARIATES, estimand="ATE").aipw("y")
