import polars as pl
import pytest

from impact.disclosure import check_table
from impact.errors import DataError
from impact.results import EffectResult, Term


def tidy(df=None, n_clusters=None, n_treated=40, n_comparison=60, **extra):
    t = Term.from_estimate("att", 1.5, 0.5, df=df, n_obs=n_treated + n_comparison, n_treated=n_treated,
                           n_comparison=n_comparison, n_clusters=n_clusters, **extra)
    return EffectResult("did", [t]).tidy()


@pytest.mark.parametrize("df, n_clusters", [(9.0, None), (200.0, 10), (9.0, 30)])
def test_dof_of_9_fails_for_plain_and_clustered_models(df, n_clusters):
    ct = check_table(tidy(df=df, n_clusters=n_clusters), "estimate", name="e")
    assert ct.status == "fail" and ct.cells["dof"]
    assert ct.table["estimate"][0] is None and ct.table["ci_low"][0] is None


@pytest.mark.parametrize("df, n_clusters", [(10.0, None), (200.0, 11), (10.0, 30)])
def test_dof_of_10_passes_for_plain_and_clustered_models(df, n_clusters):
    ct = check_table(tidy(df=df, n_clusters=n_clusters), "estimate", name="e")
    assert ct.status == "pass" and ct.table["estimate"][0] == 1.5
    assert "min(df, n_clusters - 1, df_resid)" in ct.properties["dof_rule"]


def test_dof_unknown_is_review_and_df_resid_argument_fills_it():
    ct = check_table(tidy(), "estimate", name="e")
    assert ct.status == "review" and "dof-unknown" in ct.cells
    assert check_table(tidy(), "estimate", name="e", df_resid=9).status == "fail"
    assert check_table(tidy(), "estimate", name="e", df_resid=50).status == "pass"


def test_small_arm_suppresses_the_row_and_other_rows_stay():
    terms = [
        Term.from_estimate(f"e{k}", 1.0, 0.5, df=100.0, n_obs=70, n_treated=nt, n_comparison=60, event_time=k)
        for k, nt in ((-1, 12), (0, 9), (1, 10))
    ]
    ct = check_table(EffectResult("event_study", terms).tidy(), "estimate", name="es")
    t = ct.table
    assert ct.status == "review"
    assert t["estimate"].to_list() == [1.0, None, 1.0] and t["n_treated"].to_list() == [12, None, 10]
    assert t["event_time"].to_list() == [-1, 0, 1]  # labels stay


def balance_frame(n_after_treated=45):
    return pl.DataFrame({
        "covariate": ["ks2", "ks2"],
        "sample": ["before", "after"],
        "mean_treated": [0.1, 0.2],
        "mean_comparison": [0.3, 0.25],
        "smd": [-0.4, -0.1],
        "ecdf_max": [0.2, 0.05],
        "n_treated": [45, n_after_treated],
        "n_comparison": [500, 45],
    })


def test_balance_passes_with_large_groups_and_ecdf_max_is_not_an_extreme():
    ct = check_table(balance_frame(), "balance", name="b")
    assert ct.status == "pass"


def test_balance_small_group_suppresses_its_means_and_joint_statistics():
    ct = check_table(balance_frame(n_after_treated=8), "balance", name="b")
    t = ct.table
    assert t["mean_treated"][1] is None and t["smd"][1] is None and t["n_treated"][1] is None
    assert t["mean_comparison"][1] == 0.25 and t["mean_treated"][0] == 0.1


def test_balance_differencing_when_matching_drops_few_units():
    ct = check_table(balance_frame(n_after_treated=40), "balance", name="b")  # 45 -> 40: 5 dropped
    assert ct.cells["differencing"] and ct.table["mean_treated"][1] is None
    assert ct.table["n_treated"][1] == 40  # the counts themselves are released


def test_balance_without_counts_is_a_data_error():
    with pytest.raises(DataError, match="n_treated"):
        check_table(balance_frame().drop("n_treated"), "balance", name="b")


def hist(counts, low=0.0, width=0.1, group=None):
    k = len(counts)
    d = {"bin_low": [low + i * width for i in range(k)], "bin_high": [low + (i + 1) * width for i in range(k)],
         "count": counts}
    if group:
        d = {"group": [group] * k, **d}
    return pl.DataFrame(d)


def test_histogram_bins_below_10_fail_and_edges_are_opened():
    ok = check_table(hist([12, 30, 10]), "histogram", name="h")
    assert ok.status == "review" and "threshold" not in ok.cells
    assert ok.table["bin_low"][0] == float("-inf") and ok.table["bin_high"][2] == float("inf")
    assert ok.table["bin_low"][1] == pytest.approx(0.1)
    bad = check_table(hist([12, 9, 10]), "histogram", name="h")
    assert bad.status == "fail" and bad.table["count"][1] is None


def test_histogram_fixed_edges_pass_and_edges_open_per_group():
    assert check_table(hist([12, 30]), "histogram", name="h", fixed_edges=True).status == "pass"
    two = pl.concat([hist([12, 30], group="treated"), hist([15, 20], low=0.2, group="comparison")])
    t = check_table(two, "histogram", name="h").table
    assert t["bin_low"].to_list()[0] == float("-inf") and t["bin_low"].to_list()[2] == float("-inf")
    assert t["bin_high"].to_list()[1] == float("inf") and t["bin_high"].to_list()[3] == float("inf")


def test_estimate_extreme_column_blocked():
    t = tidy(df=50.0).with_columns(pl.lit(3.0).alias("max"))
    ct = check_table(t, "estimate", name="e")
    assert ct.status == "fail" and ct.table["max"][0] is None and ct.table["estimate"][0] == 1.5
