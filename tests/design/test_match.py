"""match(): hand-worked designs, peers for the effect step, input types and errors."""
from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
import statsmodels.api as sm

from impact.design import match
from impact.errors import DataError, ParameterError

from .simulate import COVARIATES, selection_on_observables


def tiny() -> pl.DataFrame:
    # scores given directly (distance column): treated rows 0, 1; comparison rows 2..6
    return pl.DataFrame(
        {
            "t": [1, 1, 0, 0, 0, 0, 0],
            "ps": [0.9, 0.5, 0.85, 0.8, 0.52, 0.4, 0.1],
            "x": [3.0, 1.0, 2.0, 2.0, 1.0, 0.0, 0.0],
            "y": [10.0, 6.0, 7.0, 8.0, 5.0, 4.0, 1.0],
        }
    )


def test_hand_worked_1_to_2_weights():
    d = match(tiny(), "t", ["x"], distance="ps", ratio=2)
    # round 1: row 0 (0.9) -> row 2 (0.85); row 1 (0.5) -> row 4 (0.52)
    # round 2: row 0 -> row 3 (0.8); row 1 -> row 5 (0.4)
    assert d.pairs()["comparison_row"].to_list() == [2, 3, 4, 5]
    np.testing.assert_allclose(d.weights, [1, 1, 1, 1, 1, 1, 0])
    assert d.subclass.tolist() == [0, 1, 0, 0, 1, 1, -1]


def test_hand_worked_with_replacement_weights():
    df = tiny().with_columns(pl.Series("ps", [0.9, 0.88, 0.85, 0.1, 0.2, 0.3, 0.15]))
    d = match(df, "t", ["x"], distance="ps", replace=True)
    # both treated take row 2: weight 2, rescaled so comparison weights sum to 1 distinct unit
    assert d.pairs()["comparison_row"].to_list() == [2, 2]
    np.testing.assert_allclose(d.weights, [1, 1, 1, 0, 0, 0, 0])
    r = d.effect("y")
    assert r.estimate == pytest.approx((10 + 6) / 2 - 7)


def test_caliper_in_sd_of_distance_and_summary():
    d = match(tiny(), "t", ["x"], distance="ps", caliper=0.1, caliper_scale="raw")
    assert d.pairs()["comparison_row"].to_list() == [2, 4]
    sd = float(np.std(tiny()["ps"].to_numpy(), ddof=1))
    d2 = match(tiny(), "t", ["x"], distance="ps", caliper=0.03 / sd)  # 0.03 on the score scale
    assert d2.pairs()["focal_row"].to_list() == [1]  # row 0 is 0.05 away: discarded by the caliper
    s = d2.summary().filter(pl.col("stratum") == "all", pl.col("group") == "treated").row(0, named=True)
    assert (s["n"], s["n_matched"], s["n_discarded_caliper"]) == (2, 1, 1)


def test_exact_strata_are_respected():
    df = selection_on_observables(600, seed=5).with_columns((pl.col("x4")).cast(pl.Int64).alias("la"))
    d = match(df, "t", ["x1", "x2", "x3"], exact="la")
    p = d.pairs()
    la = df["la"].to_numpy()
    assert (la[p["focal_row"].to_numpy()] == la[p["comparison_row"].to_numpy()]).all()
    assert d.summary().filter(pl.col("stratum") != "all").height == 4


def test_cem_hand_worked():
    df = pl.DataFrame(
        {
            "t": [1, 1, 0, 0, 0, 1, 0],
            "x": [0.1, 0.2, 0.15, 0.3, 0.9, 0.95, 0.5],
            "g": ["a", "a", "a", "a", "b", "a", "a"],
        }
    )
    # bins=2 on x over [0.1, 0.95]: cut at 0.525 -> x bins 0,0,0,0,1,1,0
    # cells: (0,a): t rows 0,1; c rows 2,3,6 -> kept; (1,b): c row 4 only; (1,a): t row 5 only
    d = match(df, "t", ["x", "g"], method="cem", bins=2)
    np.testing.assert_allclose(d.weights, [1, 1, 1, 1, 0, 0, 1])  # c weight 2/3, rescaled to sum to 3
    assert d.subclass.tolist() == [0, 0, 0, 0, -1, -1, 0]
    d_ate = match(df, "t", ["x", "g"], method="cem", bins=2, estimand="ATE")
    np.testing.assert_allclose(d_ate.weights, [1, 1, 1, 1, 0, 0, 1])  # one cell: constant within group
    d_pts = match(df, "t", ["x", "g"], method="cem", bins={"x": [0.12]})
    # cut at 0.12: cells (0,a) t row 0 only; (1,a): t rows 1,5; c rows 2,3,6 -> 1.0 each; (1,b) c row 4
    np.testing.assert_allclose(d_pts.weights, [0, 1, 1, 1, 0, 1, 1])


def test_exact_method():
    df = pl.DataFrame({"t": [1, 1, 0, 0, 0, 0], "g": ["a", "b", "a", "a", "b", "c"]})
    d = match(df, "t", ["g"], method="exact")
    # cell a: 1 t, 2 c -> c weight 1/2; cell b: 1 t, 1 c -> 1; sum 2 over 3 matched -> x 3/2
    np.testing.assert_allclose(d.weights, [1, 1, 0.75, 0.75, 1.5, 0])


def test_balance_hand_worked():
    d = match(tiny(), "t", ["x"], distance="ps")
    b = d.balance()
    before = b.filter(pl.col("sample") == "before").row(0, named=True)
    after = b.filter(pl.col("sample") == "after").row(0, named=True)
    xt, xc = np.array([3.0, 1.0]), np.array([2.0, 2.0, 1.0, 0.0, 0.0])
    sd_t = xt.std(ddof=1)  # ATT: SD of the treated, unmatched sample
    assert before["smd"] == pytest.approx((2.0 - 1.0) / sd_t)
    assert before["variance_ratio"] == pytest.approx(xt.var(ddof=1) / xc.var(ddof=1))
    # eCDFs at x = 0, 1, 2, 3: treated 0, .5, .5, 1; comparison .4, .6, 1, 1 -> max |diff| .5 at x = 2
    assert before["ecdf_max"] == pytest.approx(0.5)
    # matched comparison rows 2 (x=2) and 4 (x=1): means 2 vs 1.5
    assert after["mean_comparison"] == pytest.approx(1.5)
    assert after["smd"] == pytest.approx(0.5 / sd_t)
    assert after["variance_ratio"] == pytest.approx(xt.var(ddof=1) / np.var([2.0, 1.0], ddof=1))
    # the n behind each mean: 2 treated and 5 comparison before, 2 and 2 after matching
    assert (before["n_treated"], before["n_comparison"]) == (2, 5)
    assert (after["n_treated"], after["n_comparison"]) == (2, 2)


def test_effect_equals_statsmodels_cluster_wls():
    df = selection_on_observables(1200, seed=6)
    d = match(df, "t", COVARIATES, ratio=2, caliper=0.25)
    md = d.matched_data().filter(pl.col("weights") > 0)
    for covs, cluster in ((None, None), (COVARIATES, None), (COVARIATES, "school")):
        r = d.effect("y", covariates=covs, cluster=cluster)
        X = md.select(["t"] + (covs or [])).to_numpy().astype(float)
        groups = md["subclass" if cluster is None else cluster].to_numpy()
        ref = sm.WLS(md["y"].to_numpy(), sm.add_constant(X), weights=md["weights"].to_numpy()).fit(
            cov_type="cluster", cov_kwds={"groups": groups}
        )
        assert r.estimate == pytest.approx(ref.params[1], rel=1e-10)
        assert r.std_error == pytest.approx(ref.bse[1], rel=1e-8)
        assert r.terms[0].n_clusters == len(np.unique(groups))


def test_recovers_planted_effect():
    df = selection_on_observables(5000, seed=7)
    naive = df.filter(pl.col("t") == 1)["y"].mean() - df.filter(pl.col("t") == 0)["y"].mean()
    for d in (match(df, "t", COVARIATES, caliper=0.2), match(df, "t", COVARIATES, replace=True)):
        r = d.effect("y", covariates=COVARIATES)
        assert abs(r.estimate - 1.0) < 2.5 * r.std_error
        assert abs(naive - 1.0) > 10 * r.std_error  # the design had real confounding to remove


def test_inputs_pandas_arrow_and_determinism():
    df = selection_on_observables(400, seed=8)
    ref = match(df, "t", COVARIATES, seed=1)
    for other in (df.to_pandas(), df.to_arrow(), df):
        np.testing.assert_array_equal(match(other, "t", COVARIATES, seed=1).weights, ref.weights)


def test_mahalanobis_equals_brute_force():
    rng = np.random.default_rng(9)
    n = 160
    X = rng.normal(size=(n, 3))
    t = np.arange(n) % 4 == 0
    X[1::4] = X[2::4]  # duplicated comparison rows: exact ties, the earlier row must win
    df = pl.DataFrame({"t": t.astype(int), "a": X[:, 0], "b": X[:, 1], "c": X[:, 2]})
    d = match(df, "t", ["a", "b", "c"], method="mahalanobis", ratio=2)
    S = (np.cov(X[t].T) * (t.sum() - 1) + np.cov(X[~t].T) * ((~t).sum() - 1)) / (n - 2)
    Si = np.linalg.inv(S)
    avail = ~t
    expected = {}
    for rnd in range(2):
        for i in np.flatnonzero(t):
            cand = np.flatnonzero(avail)
            diff = X[cand] - X[i]
            dist = np.sqrt(np.einsum("ij,jk,ik->i", diff, Si, diff))
            j = cand[np.lexsort((cand, dist))[0]]
            avail[j] = False
            expected.setdefault(i, []).append(j)
    got = {}
    for f, c in d.pairs().select("focal_row", "comparison_row").iter_rows():
        got.setdefault(f, []).append(c)
    assert got == expected


def test_missing_covariate_error_and_indicator():
    df = selection_on_observables(300, seed=10).with_columns(
        pl.when(pl.int_range(pl.len()) % 20 == 0).then(None).otherwise(pl.col("x1")).alias("x1")
    )
    with pytest.raises(DataError, match=r"column 'x1' has 15 missing value"):
        match(df, "t", COVARIATES)
    d = match(df, "t", COVARIATES, missing="indicator")
    assert "x1_missing" in d.balance()["covariate"].to_list()
    assert any("x1_missing" in n for n in d.notes)


def test_categorical_covariates_dummy_coded():
    df = selection_on_observables(500, seed=11).with_columns(
        pl.when(pl.col("x4") > 0).then(pl.lit("yes")).otherwise(pl.lit("no")).alias("grp")
    )
    d = match(df, "t", ["x1", "x2", "x3", "grp"])
    ref = match(df, "t", COVARIATES)
    np.testing.assert_allclose(d.distance, ref.distance, rtol=1e-10)
    assert {"grp[no]", "grp[yes]"} <= set(d.balance()["covariate"].to_list())


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"method": "optimal"}, r"'method' parameter of match must be one of"),
        ({"caliper": -1}, r"'caliper' parameter of match must be a float in \(0, inf\) or None. Got -1"),
        ({"ratio": 0}, r"'ratio' parameter of match must be an int"),
        ({"estimand": "ATE"}, r"'estimand' parameter of match must be one of 'ATT', 'ATC'"),
        ({"method": "cem", "caliper": 0.2}, r"apply to nearest/mahalanobis only"),
    ],
)
def test_parameter_errors(kwargs, pattern):
    with pytest.raises(ParameterError, match=pattern):
        match(tiny(), "t", ["x"], **kwargs)


def test_data_errors():
    with pytest.raises(DataError, match=r"unknown covariate 'nope'"):
        match(tiny(), "t", ["nope"])
    with pytest.raises(DataError, match=r"treatment column 'x' must be 0/1"):
        match(tiny(), "x", ["ps"])
    with pytest.raises(DataError, match=r"unknown distance column 'score'"):
        match(tiny(), "t", ["x"], distance="score")


def test_overlap_counts_aggregate():
    d = match(selection_on_observables(800, seed=12), "t", COVARIATES)
    o = d.overlap(bins=10)
    assert o.height == 20
    assert o.filter(pl.col("group") == "treated")["n"].sum() == int(d.data.treated.sum())
    assert o.filter(pl.col("group") == "comparison")["n_kept"].sum() == int(((d.weights > 0) & ~d.data.treated).sum())


def test_pandas_frame_is_accepted_for_effect():
    df = selection_on_observables(300, seed=13).to_pandas()
    assert isinstance(df, pd.DataFrame)
    r = match(df, "t", COVARIATES).effect("y")
    assert set(["term", "estimate", "std_error", "ci_low", "ci_high", "p_value", "n_treated", "n_comparison"]) <= set(r.tidy().columns)
