"""att_gt: hand-worked group-time ATTs, closed-form standard errors, aggregation weights, input errors."""
from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
import statsmodels.api as sm

from impact.errors import DataError, ParameterError
from impact.estimate import att_gt
from impact.estimate._cs_propensity import ipt_fit, logit_fit

# Tiny panel: units a, b first treated in 3; c, d in 4; e, f, h never treated (group 0).
Y = {
    "a": [1, 2, 5, 7], "b": [2, 3, 5, 8],
    "c": [0, 1, 1, 4], "d": [1, 1, 2, 6],
    "e": [0, 1, 1, 2], "f": [1, 1, 2, 2], "h": [2, 3, 3, 4],
}
G = {"a": 3, "b": 3, "c": 4, "d": 4, "e": 0, "f": 0, "h": 0}
LA = {"a": 1, "b": 2, "c": 1, "d": 3, "e": 2, "f": 3, "h": 3}


def tiny() -> pl.DataFrame:
    return pl.DataFrame(
        [{"id": u, "year": t + 1, "y": float(v[t]), "g": G[u], "la": LA[u]} for u, v in Y.items() for t in range(4)]
    )


def estimates(res) -> dict[tuple[int, int], float]:
    return {(r["group"], r["time"]): r["estimate"] for r in res.tidy().iter_rows(named=True)}


# Mean changes of the never-treated units (e, f, h): 2-1: (1+0+1)/3, 3-2: (0+1+0)/3, 4-2: 3/3, 4-3: (1+0+1)/3.
HAND_NEVER_VARYING = {
    (3, 2): (1 + 1) / 2 - 2 / 3,  # base 1
    (3, 3): (3 + 2) / 2 - 1 / 3,  # base 2
    (3, 4): (5 + 5) / 2 - 1,  # base 2
    (4, 2): (1 + 0) / 2 - 2 / 3,  # base 1
    (4, 3): (0 + 1) / 2 - 1 / 3,  # base 2
    (4, 4): (3 + 4) / 2 - 2 / 3,  # base 3
}


@pytest.mark.parametrize("method", ["dr", "ipw", "reg"])
def test_hand_worked_never_treated_all_methods_equal_did_of_means(method):
    res = att_gt(tiny(), "y", "id", "year", "g", method=method, bootstrap_reps=0)
    got = estimates(res)
    assert got.keys() == HAND_NEVER_VARYING.keys()
    for k, v in HAND_NEVER_VARYING.items():
        assert got[k] == pytest.approx(v, abs=1e-12)


def test_hand_worked_not_yet_treated_and_universal_base():
    res = att_gt(tiny(), "y", "id", "year", "g", control="not_yet_treated", method="reg", bootstrap_reps=0)
    got = estimates(res)
    # ATT(3,2), base 1: comparisons are never-treated plus group 4: changes 1,0 (c,d) and 1,0,1.
    assert got[(3, 2)] == pytest.approx(1 - (1 + 0 + 1 + 0 + 1) / 5, abs=1e-12)
    # ATT(3,3), base 2: group 4 still untreated in 3: changes 0,1 and 0,1,0.
    assert got[(3, 3)] == pytest.approx(2.5 - 2 / 5, abs=1e-12)
    # ATT(3,4): nobody is untreated in 4 except the never-treated.
    assert got[(3, 4)] == pytest.approx(4.0, abs=1e-12)
    uni = estimates(att_gt(tiny(), "y", "id", "year", "g", base_period="universal", method="ipw", bootstrap_reps=0))
    # Universal base g-1 for every period; the reference cells (3,2) and (4,3) are not reported.
    assert set(uni) == {(3, 1), (3, 3), (3, 4), (4, 1), (4, 2), (4, 4)}
    assert uni[(3, 1)] == pytest.approx((-1 - 1) / 2 - (-1 + 0 - 1) / 3, abs=1e-12)  # Y1 - Y2
    assert uni[(4, 1)] == pytest.approx((-1 - 1) / 2 - (-1 - 1 - 1) / 3, abs=1e-12)  # Y1 - Y3
    assert uni[(4, 2)] == pytest.approx((0 - 1) / 2 - (0 - 1 + 0) / 3, abs=1e-12)  # Y2 - Y3
    assert uni[(4, 4)] == pytest.approx(HAND_NEVER_VARYING[(4, 4)], abs=1e-12)


def test_tidy_columns_terms_and_counts():
    res = att_gt(tiny(), "y", "id", "year", "g", cluster="la", seed=3)
    tb = res.tidy()
    row = tb.filter(pl.col("term") == "ATT(3,3)").row(0, named=True)
    assert (row["group"], row["time"], row["event_time"], row["base_time"]) == (3, 3, 0, 2)
    assert (row["n_treated"], row["n_comparison"], row["n_obs"]) == (2, 3, 5)
    for key in ("n_units", "n_clusters", "control", "method", "base_period", "critical_value"):
        assert key in res.info
    assert res.info["n_units"] == 7 and res.info["n_clusters"] == 3
    assert res.influence.shape == (7, 6)
    sim = att_gt(simulated_panel(), "y", "id", "year", "g", cluster="la", seed=3).tidy()
    assert (sim["cband_low"] < sim["ci_low"]).all() and (sim["ci_high"] < sim["cband_high"]).all()


def _closed_form_se(dy_t: np.ndarray, dy_c: np.ndarray) -> float:
    """SE of a difference of two independent means with n denominators (Callaway & Sant'Anna)."""
    return float(np.sqrt(dy_t.var() / dy_t.size + dy_c.var() / dy_c.size))


def simulated_panel(n: int = 600, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.choice([0, 2003, 2005], size=n, p=[0.4, 0.3, 0.3])
    x = rng.normal(size=n)
    la = rng.integers(0, 25, size=n)
    years = np.arange(2001, 2007)
    rows = []
    for yi, yr in enumerate(years):
        y = x + 0.3 * yi * x + rng.normal(size=n) + np.where((g > 0) & (yr >= g), 1.0 + 0.5 * (yr - g), 0.0)
        rows.append(pl.DataFrame({"id": np.arange(n), "year": yr, "y": y, "g": g, "x": x, "la": la}))
    return pl.concat(rows)


@pytest.mark.parametrize("method", ["dr", "ipw", "reg"])
@pytest.mark.parametrize("base_period", ["varying", "universal"])
def test_se_equals_closed_form_without_covariates(method, base_period):
    df = simulated_panel()
    res = att_gt(df, "y", "id", "year", "g", method=method, base_period=base_period, bootstrap_reps=0)
    wide = df.pivot(on="year", index=["id", "g"], values="y", sort_columns=True)
    for t in res.terms:
        e = t.extra
        dy = (wide[str(t.extra["time"])] - wide[str(e["base_time"])]).to_numpy()
        gcol = wide["g"].to_numpy()
        dt, dc = dy[gcol == e["group"]], dy[gcol == 0]
        assert t.estimate == pytest.approx(dt.mean() - dc.mean(), abs=1e-10)
        assert t.std_error == pytest.approx(_closed_form_se(dt, dc), rel=1e-10)


def test_clustered_se_sums_influence_within_cluster():
    res = att_gt(tiny(), "y", "id", "year", "g", cluster="la", bootstrap_reps=0)
    t = res.term("ATT(3,3)")
    dy = {u: v[2] - v[1] for u, v in Y.items()}
    treated, ctrl = ["a", "b"], ["e", "f", "h"]
    mt, mc = np.mean([dy[u] for u in treated]), np.mean([dy[u] for u in ctrl])
    psi = {u: (dy[u] - mt) / 2 for u in treated} | {u: -(dy[u] - mc) / 3 for u in ctrl}
    by_la: dict[int, float] = {}
    for u, p in psi.items():
        by_la[LA[u]] = by_la.get(LA[u], 0.0) + p
    assert t.std_error == pytest.approx(np.sqrt(sum(v**2 for v in by_la.values())), rel=1e-12)


def test_reg_with_covariates_equals_ols_imputation_from_statsmodels():
    df = simulated_panel(seed=4)
    res = att_gt(df, "y", "id", "year", "g", method="reg", covariates="x", bootstrap_reps=0)
    wide = df.pivot(on="year", index=["id", "g", "x"], values="y", sort_columns=True)
    for name in ("ATT(2003,2005)", "ATT(2005,2004)"):
        e = res.term(name).extra
        dy = (wide[str(e["time"])] - wide[str(e["base_time"])]).to_numpy()
        gcol, x = wide["g"].to_numpy(), sm.add_constant(wide["x"].to_numpy())
        fit = sm.OLS(dy[gcol == 0], x[gcol == 0]).fit()
        treated = gcol == e["group"]
        assert res.term(name).estimate == pytest.approx(np.mean(dy[treated] - fit.predict(x[treated])), abs=1e-10)


def test_logit_matches_statsmodels_and_ipt_balances():
    rng = np.random.default_rng(7)
    x = sm.add_constant(rng.normal(size=(800, 2)))
    d = (rng.uniform(size=800) < 1 / (1 + np.exp(-(x @ [-0.3, 0.8, -0.5])))).astype(float)
    beta, p, hinv = logit_fit(d, x)
    ref = sm.Logit(d, x).fit(disp=0, tol=1e-12)
    np.testing.assert_allclose(beta, ref.params, rtol=1e-8)
    np.testing.assert_allclose(hinv / d.size, ref.cov_params(), rtol=1e-8)
    ps = ipt_fit(d, x)
    odds = (1 - d) * ps / (1 - ps)
    np.testing.assert_allclose((odds @ x) / odds.sum(), x[d == 1].mean(axis=0), atol=1e-10)


def test_dynamic_aggregate_is_group_share_weighted_average():
    df = simulated_panel(seed=2)
    res = att_gt(df, "y", "id", "year", "g", method="reg", seed=1)
    dyn = res.aggregate("dynamic")
    n_g = dict(zip(*np.unique(df.filter(pl.col("year") == 2001)["g"].to_numpy(), return_counts=True)))
    cells = estimates(res)
    for t in dyn.terms[:-1]:
        e = t.extra["event_time"]
        pairs = [(g, g + e) for g in (2003, 2005) if (g, g + e) in cells]
        w = np.array([n_g[g] for g, _ in pairs], dtype=float)
        assert t.estimate == pytest.approx(w @ [cells[p] for p in pairs] / w.sum(), abs=1e-12)
    post = [t.estimate for t in dyn.terms[:-1] if t.extra["event_time"] >= 0]
    assert dyn.terms[-1].estimate == pytest.approx(np.mean(post), abs=1e-12)
    simple = res.aggregate("simple").estimate
    post_cells = [(k, v) for k, v in cells.items() if k[1] >= k[0]]
    w = np.array([n_g[k[0]] for k, _ in post_cells], dtype=float)
    assert simple == pytest.approx(w @ [v for _, v in post_cells] / w.sum(), abs=1e-12)
    grp = res.aggregate("group")
    assert grp.term("ATT(g=2003)").estimate == pytest.approx(np.mean([cells[(2003, t)] for t in range(2003, 2007)]))


def test_aggregate_bands_and_balance_e():
    res = att_gt(simulated_panel(seed=5), "y", "id", "year", "g", seed=11)
    dyn = res.aggregate("dynamic", min_e=-2, max_e=2)
    assert [t.extra["event_time"] for t in dyn.terms[:-1]] == [-2, -1, 0, 1, 2]
    assert dyn.info["critical_value"] > 1.96
    bal = res.aggregate("dynamic", balance_e=1)
    # Only group 2003 is observed for 3 periods after treatment; balance_e=1 keeps both groups (2005 sees e=0,1).
    assert [t.extra["event_time"] for t in bal.terms[:-1]] == [-3, -2, -1, 0, 1]
    bal3 = res.aggregate("dynamic", balance_e=3)
    cells = estimates(res)
    assert bal3.term("ATT(e=0)").estimate == pytest.approx(cells[(2003, 2003)], abs=1e-12)
    cal = res.aggregate("calendar").tidy()
    assert cal["time"].drop_nulls().to_list() == [2003, 2004, 2005, 2006]


def test_bootstrap_is_deterministic_given_seed():
    df = simulated_panel(seed=1)
    a = att_gt(df, "y", "id", "year", "g", cluster="la", seed=5, bootstrap_reps=299)
    b = att_gt(df, "y", "id", "year", "g", cluster="la", seed=5, bootstrap_reps=299)
    c = att_gt(df, "y", "id", "year", "g", cluster="la", seed=6, bootstrap_reps=299)
    assert a.info["critical_value"] == b.info["critical_value"] != c.info["critical_value"]
    assert 2.0 < a.info["critical_value"] < 4.5
    assert a.aggregate("group").info["critical_value"] == b.aggregate("group").info["critical_value"]


def test_single_cell_band_is_close_to_pointwise():
    df = simulated_panel(n=4000, seed=9).filter(pl.col("year").is_in([2002, 2003]) & pl.col("g").is_in([0, 2003]))
    res = att_gt(df, "y", "id", "year", "g", seed=0, bootstrap_reps=4999)
    assert len(res.terms) == 1
    assert res.info["critical_value"] == pytest.approx(1.96, abs=0.1)  # Monte Carlo error of the 97.5% quantile


def test_pandas_and_arrow_inputs_give_same_result():
    df = simulated_panel(n=200)
    ref = att_gt(df, "y", "id", "year", "g", covariates=["x"], bootstrap_reps=0).tidy()
    for other in (df.to_pandas(), df.to_arrow()):
        assert att_gt(other, "y", "id", "year", "g", covariates=["x"], bootstrap_reps=0).tidy().equals(ref)


def test_repeated_cross_sections_hand_worked():
    # Each row is a different pupil; groups 0 and 3, periods 2 and 3.
    df = pl.DataFrame({
        "id": range(10), "year": [2, 2, 3, 3, 3, 2, 2, 2, 3, 3], "g": [3, 3, 3, 3, 3, 0, 0, 0, 0, 0],
        "y": [1.0, 2.0, 6.0, 7.0, 5.0, 0.0, 1.0, 2.0, 2.0, 3.0],
    })
    for method in ("dr", "ipw", "reg"):
        res = att_gt(df, "y", "id", "year", "g", panel=False, method=method, bootstrap_reps=0)
        assert res.estimate == pytest.approx((6 - 1.5) - (2.5 - 1.0), abs=1e-12)
        # Four independent means: SE^2 = sum of var/n with n denominators.
        cells = [np.array(v) for v in ([1.0, 2.0], [6.0, 7.0, 5.0], [0.0, 1.0, 2.0], [2.0, 3.0])]
        assert res.std_error == pytest.approx(np.sqrt(sum(c.var() / c.size for c in cells)), rel=1e-10)


def test_covariates_varying_within_unit_use_base_period_with_note():
    df = simulated_panel(n=300).with_columns((pl.col("x") + 0.1 * pl.col("year")).alias("xv"))
    res = att_gt(df, "y", "id", "year", "g", covariates="xv", method="reg", bootstrap_reps=0)
    assert any("base period" in n for n in res.notes)


# ------------------------------------------------------------------------- input errors


def test_error_group_varying_within_unit():
    df = tiny().with_columns(pl.when((pl.col("id") == "a") & (pl.col("year") == 4)).then(4).otherwise(pl.col("g")).alias("g"))
    with pytest.raises(DataError, match=r"'g' varies within unit for 1 unit"):
        att_gt(df, "y", "id", "year", "g")


def test_error_unbalanced_panel_names_count_and_fix():
    df = tiny().filter(~((pl.col("id").is_in(["a", "e"])) & (pl.col("year") == 2)))
    with pytest.raises(DataError, match=r"2 of 7 unit\(s\) are missing.*panel=False"):
        att_gt(df, "y", "id", "year", "g")
    assert att_gt(df, "y", "id", "year", "g", panel=False, bootstrap_reps=0).terms


def test_error_no_never_treated_suggests_not_yet_treated():
    df = tiny().filter(pl.col("g") > 0)
    with pytest.raises(DataError, match="not_yet_treated"):
        att_gt(df, "y", "id", "year", "g")
    res = att_gt(df, "y", "id", "year", "g", control="not_yet_treated", bootstrap_reps=0)
    assert set(estimates(res)) == {(3, 2), (3, 3), (4, 2)}  # later cells have no untreated comparison
    assert any("no comparison units" in n for n in res.notes)


def test_missing_values_and_null_group():
    df = tiny().with_columns(pl.when(pl.col("id") == "c").then(None).otherwise(pl.col("y")).alias("y"))
    with pytest.raises(DataError, match=r"column 'y' has 4 missing"):
        att_gt(df, "y", "id", "year", "g")
    df = tiny().with_columns(pl.when(pl.col("id") == "e").then(None).otherwise(pl.col("g")).alias("g"))
    with pytest.raises(DataError, match=r"'g' has 4 missing.*group 0"):
        att_gt(df, "y", "id", "year", "g")


def test_group_treated_from_first_period_dropped_with_note_and_late_group_recoded():
    df = tiny().with_columns(
        pl.when(pl.col("id") == "e").then(1).when(pl.col("id") == "f").then(9).otherwise(pl.col("g")).alias("g")
    )
    res = att_gt(df, "y", "id", "year", "g", bootstrap_reps=0)
    assert any("dropped 1 unit(s) of group(s) [1]" in n for n in res.notes)
    assert any("treated as never treated" in n for n in res.notes)
    assert res.info["n_units"] == 6
    res2 = att_gt(tiny(), "y", "id", "year", "g", anticipation=2, bootstrap_reps=0)
    assert any("group(s) [3]" in n for n in res2.notes)


def test_bad_parameters():
    with pytest.raises(ParameterError, match="'control' parameter of att_gt"):
        att_gt(tiny(), "y", "id", "year", "g", control="never")
    with pytest.raises(ParameterError, match="'anticipation' parameter"):
        att_gt(tiny(), "y", "id", "year", "g", anticipation=-1)
    with pytest.raises(ParameterError, match="'outcome' parameter of att_gt must be a single column"):
        att_gt(tiny(), ["y"], "id", "year", "g")
    with pytest.raises(DataError, match="unknown column 'z'"):
        att_gt(tiny(), "y", "id", "year", "g", covariates="z")
    with pytest.raises(ParameterError, match="'kind' parameter"):
        att_gt(tiny(), "y", "id", "year", "g", bootstrap_reps=0).aggregate("event")


def test_duplicate_rows_in_panel():
    df = pl.concat([tiny(), tiny().filter(pl.col("id") == "a")])
    with pytest.raises(DataError, match="1 unit\\(s\\) have more than one row"):
        att_gt(df, "y", "id", "year", "g")


def test_pandas_input_accepted():
    pdf = pd.DataFrame(tiny().to_dicts())
    assert estimates(att_gt(pdf, "y", "id", "year", "g", bootstrap_reps=0))[(3, 3)] == pytest.approx(HAND_NEVER_VARYING[(3, 3)])
