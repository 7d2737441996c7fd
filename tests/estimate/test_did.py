"""did(): hand-worked 2x2, TWFE against explicit dummies, input types, weights, and error messages."""
import numpy as np
import pandas as pd
import polars as pl
import pytest
import statsmodels.api as sm

from impact.errors import DataError, ParameterError
from impact.estimate import did, event_study

from ._did_data import unbalanced_panel


def test_2x2_equals_difference_of_four_cell_means():
    # Hand-worked: treated pre {1, 3} mean 2, treated post {6, 8} mean 7,
    # comparison pre {2, 2} mean 2, comparison post {4, 6} mean 5  ->  (7 - 2) - (5 - 2) = 2.
    df = pl.DataFrame({"y": [1.0, 3, 6, 8, 2, 2, 4, 6], "d": [1, 1, 1, 1, 0, 0, 0, 0], "p": [0, 0, 1, 1, 0, 0, 1, 1]})
    res = did(df, "y", "d", "p", inference="robust")
    assert res.estimate == pytest.approx(2.0, abs=1e-12)
    row = res.tidy().row(0, named=True)
    assert (row["term"], row["n_obs"], row["n_treated"], row["n_comparison"], row["df"]) == ("att", 8, 4, 4, 4.0)
    assert res.method == "did_2x2"


def test_2x2_robust_se_matches_statsmodels_hc1():
    df = unbalanced_panel(seed=7)
    res = did(df, "y", "treated", "post", inference="robust")
    d, p = df["treated"].to_numpy(), df["post"].to_numpy()
    x = np.column_stack([np.ones(df.height), d, p, d * p])
    ref = sm.OLS(df["y"].to_numpy(), x).fit(cov_type="HC1")
    assert res.estimate == pytest.approx(ref.params[3], rel=1e-10)
    assert res.std_error == pytest.approx(ref.bse[3], rel=1e-10)


@pytest.mark.parametrize("kind", ["pandas", "arrow"])
def test_accepts_pandas_and_arrow(kind):
    df = unbalanced_panel(seed=1)
    ref = did(df, "y", "treated", "post", unit="unit", time="time", covariates=["x1", "x2"], cluster="cluster")
    other = df.to_pandas() if kind == "pandas" else df.to_arrow()
    res = did(other, "y", "treated", "post", unit="unit", time="time", covariates=["x1", "x2"], cluster="cluster")
    assert res.tidy().equals(ref.tidy())


def test_twfe_recovers_planted_effect_and_reports_counts():
    df = unbalanced_panel(seed=2, n_units=600, effect=1.5)
    res = did(df, "y", "treated", "post", unit="unit", time="time", covariates=["x1", "x2"], cluster="cluster")
    t = res.terms[0]
    assert t.ci_low < 1.5 < t.ci_high
    assert res.method == "twfe" and t.n_clusters == 30 and t.df == 29
    assert t.n_obs == df.height and t.n_treated + t.n_comparison == df.height
    assert res.info["covariates"]["x1"] == pytest.approx(0.5, abs=0.1)
    assert any("treated" in n and "post" in n for n in res.notes)  # main effects absorbed, said in notes


def test_weights_column_equals_weights_array_and_wls():
    df = unbalanced_panel(seed=3)
    a = did(df, "y", "treated", "post", unit="unit", time="time", weights="w", cluster="cluster")
    b = did(df, "y", "treated", "post", unit="unit", time="time", weights=df["w"].to_numpy(), cluster="cluster")
    assert a.estimate == b.estimate and a.std_error == b.std_error
    dummies = pd.get_dummies(df.select(pl.col("unit", "time").cast(str)).to_pandas(), drop_first=True).astype(float)
    d = (df["treated"] * df["post"]).to_numpy()
    x = np.column_stack([d, np.ones(df.height), dummies.to_numpy()])
    ref = sm.WLS(df["y"].to_numpy(), x, weights=df["w"].to_numpy()).fit()
    assert a.estimate == pytest.approx(ref.params[0], rel=1e-9)


def test_zero_weights_drop_rows_and_say_so():
    df = unbalanced_panel(seed=3)
    w = df["w"].to_numpy().copy()
    w[:10] = 0.0
    res = did(df, "y", "treated", "post", unit="unit", time="time", weights=w, cluster="cluster")
    sub = did(df[10:], "y", "treated", "post", unit="unit", time="time", weights=w[10:], cluster="cluster")
    assert res.estimate == pytest.approx(sub.estimate, rel=1e-12)
    assert res.info["dropped_zero_weight"] == 10


def test_singletons_dropped_and_counted():
    df = unbalanced_panel(seed=4)
    extra = pl.DataFrame({"unit": [10_000], "time": [3], "cluster": [0], "treated": [0], "post": [0], "y": [50.0],
                          "x1": [0.0], "x2": [0.0], "w": [1.0], "region": [0]}).cast(df.schema)
    res = did(pl.concat([df, extra]), "y", "treated", "post", unit="unit", time="time", cluster="cluster")
    base = did(df, "y", "treated", "post", unit="unit", time="time", cluster="cluster")
    assert res.info["dropped_singletons"] >= 1 and res.estimate == pytest.approx(base.estimate, rel=1e-12)
    assert any("singleton" in n for n in res.notes)


def test_few_clusters_are_noted():
    df = unbalanced_panel(seed=5)
    many = did(df, "y", "treated", "post", unit="unit", time="time", cluster="cluster")  # 30 clusters
    assert not any("clusters of" in n for n in many.notes)
    few = did(unbalanced_panel(seed=5, n_clusters=6), "y", "treated", "post", unit="unit", time="time", cluster="cluster")
    assert few.terms[0].n_clusters == 6
    assert any(n.startswith("only 6 clusters of 'cluster'") for n in few.notes)


def test_two_way_clustering_runs_and_uses_min_g():
    df = unbalanced_panel(seed=5)
    res = did(df, "y", "treated", "post", unit="unit", time="time", cluster=["cluster", "time"])
    assert res.terms[0].n_clusters == 8 and res.terms[0].df == 7


def test_errors_name_column_count_and_fix():
    df = unbalanced_panel(seed=6)
    with pytest.raises(DataError, match=r"'treated' varies within unit 'unit' for 1 of \d+ units"):
        did(df.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(1 - pl.col("treated"))
                            .otherwise(pl.col("treated")).alias("treated")),
            "y", "treated", "post", unit="unit", time="time")
    with pytest.raises(DataError, match=r"never observed before treatment.*0 of \d+ treated rows"):
        did(df.filter(~((pl.col("treated") == 1) & (pl.col("post") == 0))), "y", "treated", "post", unit="unit")
    with pytest.raises(DataError, match=r"column 'x1' has 1 missing value"):
        did(df.with_columns(pl.when(pl.int_range(pl.len()) == 3).then(None).otherwise(pl.col("x1")).alias("x1")),
            "y", "treated", "post", covariates="x1", inference="robust")
    with pytest.raises(ParameterError, match="'cluster' parameter of did"):
        did(df, "y", "treated", "post")
    with pytest.raises(ParameterError, match="'inference' parameter of did must be one of"):
        did(df, "y", "treated", "post", unit="unit", inference="bootstrap")
    with pytest.raises(ParameterError, match="one value per row"):
        did(df, "y", "treated", "post", unit="unit", weights=np.ones(3))
    with pytest.raises(DataError, match="unknown column 'nope'"):
        did(df, "y", "treated", "post", unit="unit", covariates=["nope"])


def test_interacted_fixed_effect_equals_a_prebuilt_combined_column():
    # 'time^band' must absorb exactly what a hand-built time x band column absorbs
    df = unbalanced_panel(seed=9).with_columns(band=pl.col("unit") % 3).with_columns(
        time_by_band=pl.concat_str([pl.col("time").cast(str), pl.col("band").cast(str)], separator="|")
    )
    a = did(df, "y", "treated", "post", fixed_effects=["unit", "time^band"], cluster="cluster")
    b = did(df, "y", "treated", "post", fixed_effects=["unit", "time_by_band"], cluster="cluster")
    assert a.estimate == pytest.approx(b.estimate, rel=1e-12) and a.std_error == pytest.approx(b.std_error, rel=1e-12)
    es = [event_study(df, "y", "treated", "time", treat_start=4, fixed_effects=["unit", fe], cluster="cluster").tidy()
          for fe in ("time^band", "time_by_band")]
    assert np.allclose(es[0]["estimate"].to_numpy(), es[1]["estimate"].to_numpy(), rtol=1e-12, atol=0)
    assert a.estimate != pytest.approx(did(df, "y", "treated", "post", unit="unit", time="time",
                                           cluster="cluster").estimate, rel=1e-6)
    with pytest.raises(DataError, match=r"unknown part of the fixed effect 'time\^nope' 'nope'"):
        did(df, "y", "treated", "post", fixed_effects=["unit", "time^nope"], cluster="cluster")
    with pytest.raises(ParameterError, match=r"malformed interaction 'time\^time'"):
        did(df, "y", "treated", "post", fixed_effects=["unit", "time^time"], cluster="cluster")
    with pytest.raises(DataError, match=r"column 'time\^x1' has 1 missing value"):
        did(df.with_columns(pl.when(pl.int_range(pl.len()) == 2).then(None).otherwise(pl.col("x1")).alias("x1")),
            "y", "treated", "post", fixed_effects=["unit", "time^x1"], cluster="cluster")


def test_clusters_of_very_unequal_size_are_noted_by_their_effective_number():
    """Two large clusters and 22 of one row each: 24 clusters, effectively (sum n)^2 / sum n^2, about 2.2."""
    df = unbalanced_panel(seed=5).with_row_index("row")
    cluster = pl.when(pl.col("row") < 22).then(pl.col("row") + 100).otherwise(pl.col("unit") % 2)
    df = df.with_columns(cluster=cluster.cast(df.schema["cluster"]))
    res = did(df, "y", "treated", "post", unit="unit", time="time", cluster="cluster")
    sizes = df.group_by("cluster").len()["len"].to_numpy().astype(float)
    assert res.terms[0].n_clusters == 24
    assert res.info["effective_clusters"] == pytest.approx(sizes.sum() ** 2 / (sizes @ sizes), rel=1e-12)
    assert res.info["effective_clusters"] < 2.5
    assert any(n.startswith("24 clusters but effectively 2.") for n in res.notes)
