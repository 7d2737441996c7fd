"""probit_did: the probit against statsmodels, the ATT by hand, its delta-method variance by a stacked
M-estimation with numerical derivatives, and clear errors."""
from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm
from scipy.special import ndtr, ndtri

from impact import DataError, EstimationError, ParameterError
from impact.estimate.probit_did import probit_did


def _panel(seed: int = 1, n: int = 4000, clusters: int = 40) -> tuple[pl.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    g = rng.integers(0, clusters, n)
    d = (g < clusters * 3 // 8).astype(int)
    yr = rng.integers(2017, 2023, n)
    post = (yr >= 2020).astype(int)
    xc = rng.normal(size=n)
    eta = -0.3 + 0.5 * d + 0.1 * (yr - 2017) + 0.4 * d * post + 0.3 * xc + 0.2 * rng.normal(size=clusters)[g]
    y = (eta + rng.normal(size=n) > 0).astype(int)
    frame = pl.DataFrame(dict(y=y, d=d, post=post, yr=yr, xc=xc, g=g, w=rng.uniform(0.5, 2, n)))
    design = np.column_stack([np.ones(n), d, *((yr == v).astype(float) for v in range(2018, 2023)), xc, d * post])
    return frame, design


def test_probit_and_its_clustered_errors_equal_statsmodels():
    frame, x = _panel()
    res = probit_did(frame, "y", "d", "post", fixed_effects="yr", covariates="xc", cluster="g")
    peer = sm.Probit(frame["y"].to_numpy(), x).fit(disp=0, cov_type="cluster", cov_kwds={"groups": frame["g"].to_numpy()})
    assert res.info["tau"] == pytest.approx(peer.params[-1], rel=1e-9)
    assert res.info["tau_std_error"] == pytest.approx(peer.bse[-1], rel=1e-9)
    assert res.info["loglik"] == pytest.approx(peer.llf, rel=1e-12)
    assert res.info["covariates"]["xc"] == pytest.approx(peer.params[-2], rel=1e-9)
    assert res.tidy()["df"][0] == 39


def test_weighted_probit_equals_statsmodels_glm():
    frame, x = _panel(seed=2)
    res = probit_did(frame, "y", "d", "post", fixed_effects="yr", covariates="xc", cluster="g", weights="w")
    family = sm.families.Binomial(link=sm.families.links.Probit())
    with pytest.warns(Warning):  # statsmodels: "cov_type not fully supported with var_weights"; the numbers are
        peer = sm.GLM(frame["y"].to_numpy(), x, family=family, var_weights=frame["w"].to_numpy()).fit(
            method="newton", cov_type="cluster", cov_kwds={"groups": frame["g"].to_numpy()})
    assert res.info["tau"] == pytest.approx(peer.params[-1], rel=1e-9)
    assert res.info["tau_std_error"] == pytest.approx(peer.bse[-1], rel=1e-9)


def test_att_of_the_saturated_2x2_by_hand():
    """Without covariates the four cells fit exactly, so the counterfactual treated-post probability is
    Phi(Phi^-1(p10) + Phi^-1(p01) - Phi^-1(p00)) and the ATT is p11 less it."""
    cells = {(0, 0): (30, 70), (0, 1): (45, 55), (1, 0): (20, 80), (1, 1): (40, 60)}  # (d, post): (ones, zeros)
    rows = [(d, p, v) for (d, p), (ones, zeros) in cells.items() for v in [1] * ones + [0] * zeros]
    frame = pl.DataFrame(rows, schema=["d", "post", "y"], orient="row")
    res = probit_did(frame, "y", "d", "post", inference="robust")
    p = {k: ones / (ones + zeros) for k, (ones, zeros) in cells.items()}
    counterfactual = ndtr(ndtri(p[1, 0]) + ndtri(p[0, 1]) - ndtri(p[0, 0]))
    assert res.estimate == pytest.approx(p[1, 1] - counterfactual, abs=1e-10)
    assert res.info["tau"] == pytest.approx(ndtri(p[1, 1]) - ndtri(p[1, 0]) - ndtri(p[0, 1]) + ndtri(p[0, 0]), abs=1e-9)
    # the linear DiD of the same cells is 0.40 - 0.20 - (0.45 - 0.30) = 0.05; the index DiD differs
    assert abs(res.estimate - 0.05) > 0.01


def _stacked_att_variance(frame: pl.DataFrame, x: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """ATT and its CR1 variance from the stacked estimating equations (probit scores; T1 mean), with the
    Jacobian taken by central differences: a route independent of probit_did's analytic gradient."""
    y, g = frame["y"].to_numpy(), frame["g"].to_numpy()
    t1 = (frame["d"] * frame["post"]).to_numpy() == 1
    family = sm.families.Binomial(link=sm.families.links.Probit())
    beta = sm.GLM(y, x, family=family, var_weights=weights).fit(method="newton", tol=1e-14).params
    n, k = x.shape

    def att_of(b):
        eta = x[t1] @ b
        return np.average(ndtr(eta) - ndtr(eta - b[-1]), weights=weights[t1])

    att = att_of(beta)

    def scores(theta):  # per row: the weighted probit score (k) and the T1 mean's equation (1)
        b, mu = theta[:k], theta[k]
        eta = x @ b
        q = 2 * y - 1
        lam = q * np.exp(-0.5 * eta**2) / np.sqrt(2 * np.pi) / ndtr(q * eta)
        s_mu = np.where(t1, weights * ((ndtr(eta) - ndtr(eta - b[-1])) - mu), 0.0)
        return np.column_stack([x * (weights * lam)[:, None], s_mu])

    theta = np.append(beta, att)
    jac = np.empty((k + 1, k + 1))
    for j in range(k + 1):
        h = 1e-6 * max(1.0, abs(theta[j]))
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        jac[:, j] = (scores(up).sum(0) - scores(down).sum(0)) / (2 * h)
    s = scores(theta)
    s[:, :k] *= np.sqrt((n - 1) / (n - k))  # the probit part carries did()'s (n-1)/(n-k), as documented
    sums = np.array([s[g == c].sum(0) for c in np.unique(g)])
    groups = sums.shape[0]
    inv = np.linalg.inv(jac)
    v = groups / (groups - 1) * inv @ (sums.T @ sums) @ inv.T
    return att, float(v[k, k])


@pytest.mark.parametrize("weighted", [False, True])
def test_att_variance_equals_the_stacked_estimating_equations(weighted):
    frame, x = _panel(seed=3)
    w = frame["w"].to_numpy() if weighted else np.ones(frame.height)
    res = probit_did(frame, "y", "d", "post", fixed_effects="yr", covariates="xc", cluster="g",
                     weights="w" if weighted else None)
    att, var = _stacked_att_variance(frame, x, w)
    assert res.estimate == pytest.approx(att, rel=1e-8)
    assert res.std_error == pytest.approx(np.sqrt(var), rel=1e-5)  # central differences: ~1e-8 relative error


def test_outcome_must_be_zero_one():
    frame, _ = _panel()
    with pytest.raises(DataError, match="outcome column 'xc' must be 0/1"):
        probit_did(frame, "xc", "d", "post", fixed_effects="yr", cluster="g")


def test_unit_fixed_effects_are_refused():
    frame, _ = _panel()
    frame = frame.with_row_index("pupil").with_columns(pl.col("pupil").cast(pl.Int64) // 2)
    with pytest.raises(ParameterError, match=r"'fixed_effects' parameter of probit_did must have at most 500 levels.*'pupil'"):
        probit_did(frame.with_columns(d=pl.lit(1) - (pl.col("pupil") % 2)), "y", "d", "post",
                   fixed_effects=["pupil", "yr"], cluster="g")


def test_a_unit_does_not_bring_its_fixed_effect():
    frame, x = _panel()
    res = probit_did(frame.with_row_index("pupil"), "y", "d", "post", unit="pupil", time="yr",
                     covariates="xc", cluster="g")
    assert res.info["fixed_effects"] == ["yr"]


def test_a_fixed_effect_level_with_one_outcome_value_is_named():
    frame, _ = _panel()
    frame = frame.with_columns(y=pl.when(pl.col("yr") == 2018).then(0).otherwise(pl.col("y")))
    with pytest.raises(EstimationError, match="one value in every row of 1 level.*'yr'"):
        probit_did(frame, "y", "d", "post", fixed_effects="yr", cluster="g")


def test_perfect_prediction_is_an_error():
    frame, _ = _panel()
    frame = frame.with_columns(y=pl.when((pl.col("d") == 1) & (pl.col("post") == 1)).then(1).otherwise(pl.col("y")))
    with pytest.raises(EstimationError, match="no finite maximum"):
        probit_did(frame, "y", "d", "post", fixed_effects="yr", cluster="g")


def test_wild_inference_is_refused():
    frame, _ = _panel()
    with pytest.raises(ParameterError, match="'inference' parameter of probit_did must be one of 'cluster', 'robust'"):
        probit_did(frame, "y", "d", "post", fixed_effects="yr", cluster="g", inference="wild")
