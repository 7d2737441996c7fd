import numpy as np
import polars as pl
import pytest

from impact.disclosure import DisclosureConfig, check_table, magnitude_table
from impact.errors import DataError


def pupils(values_by_group):
    rows = [(g, float(v)) for g, vals in values_by_group.items() for v in vals]
    return pl.DataFrame(rows, schema={"la": pl.Utf8, "score": pl.Float64}, orient="row")


BALANCED = [50.0 + k for k in range(20)]


def test_magnitude_table_hand_computed():
    t = magnitude_table(pupils({"a": [1, -4, 3], "b": [2, 2]}), "la", "score", statistic="sum")
    assert t.columns == ["la", "score_sum", "n", "sdc_total", "sdc_top", "sdc_negative"]
    assert t.row(0) == ("a", 0.0, 3, 8.0, [4.0, 3.0], 1)
    assert t.row(1) == ("b", 4.0, 2, 4.0, [2.0, 2.0], 0)


def test_one_extreme_value_flips_nk_and_p_ratio_and_balanced_cells_pass():
    groups = {g: BALANCED for g in "abcd"}
    ok = check_table(magnitude_table(pupils(groups), "la", "score"), "magnitude", name="m")
    assert ok.status == "pass" and ok.table.columns == ["la", "score_mean", "n"]
    spiked = dict(groups, b=BALANCED[:-1] + [100_000.0])
    ct = check_table(magnitude_table(pupils(spiked), "la", "score"), "magnitude", name="m")
    assert ct.status == "review"
    assert (1, 1) in ct.cells["nk-rule"] and (1, 1) in ct.cells["p-ratio"]
    assert ct.table["score_mean"][1] is None and ct.table["n"][1] is None
    # secondary suppression hides a second row (smallest n; ties -> first) so the total cannot give b away
    assert len({r for r, _ in ct.cells["secondary"]}) == 1


def test_p_ratio_alone_catches_two_dominant_contributors():
    # top two equal and large: N-k (2, 0.90) fires; with nk_n=1 only p% can see it
    vals = [1.0] * 18 + [1000.0, 1000.0]
    cfg = DisclosureConfig(nk_n=1, nk_k=0.9)
    ct = check_table(magnitude_table(pupils({"a": vals, "b": BALANCED, "c": BALANCED}), "la", "score", config=cfg),
                     "magnitude", name="m", config=cfg)
    assert "nk-rule" not in ct.cells
    # p%: (2018 - 1000 - 1000) / 1000 = 0.018 < 0.10
    assert (0, 1) in ct.cells["p-ratio"]


def test_threshold_on_n_behind_a_mean():
    t = magnitude_table(pupils({"a": BALANCED[:9], "b": BALANCED, "c": BALANCED[:10]}), "la", "score")
    ct = check_table(t, "magnitude", name="m")
    assert (0, 1) in ct.cells["threshold"] and (0, 2) in ct.cells["threshold"]
    assert ct.table["score_mean"][2] is None  # secondary: smallest other n (10)
    assert ct.table["score_mean"][1] is not None


def test_negative_contributions_go_to_review():
    t = magnitude_table(pupils({"a": [-5.0] + BALANCED, "b": BALANCED}), "la", "score")
    ct = check_table(t, "magnitude", name="m")
    assert ct.status == "review" and ct.cells["negative"] == [(0, 1)]
    assert ct.table["score_mean"][0] is not None  # review, not suppression


def test_missing_contributions_review_unless_declared_not_applicable():
    t = pl.DataFrame({"la": ["a", "b"], "rate": [0.1, 0.2], "n": [40, 50]})
    assert check_table(t, "magnitude", name="m").cells["dominance-unknown"] == [(0, 1), (1, 1)]
    declared = check_table(t, "magnitude", name="m", dominance=False)
    assert declared.status == "pass" and "dominance=False" in declared.comments[0]


def test_missing_n_column_is_a_data_error():
    with pytest.raises(DataError, match="unknown count column"):
        check_table(pl.DataFrame({"la": ["a"], "rate": [0.1]}), "magnitude", name="m")


def test_nk_rule_boundary_uses_greater_or_equal():
    from impact.disclosure.rules import nk_dominated, p_ratio_fails

    cfg = DisclosureConfig()
    top = np.array([[60.0, 30.0], [60.0, 29.0]])
    total = np.array([100.0, 100.0])
    assert nk_dominated(top, total, cfg).tolist() == [True, False]
    # p%: (100 - 60 - 30) / 60 = 0.1667 passes; (100 - 85 - 10) / 85 = 0.0588 fails
    assert p_ratio_fails(np.array([[60.0, 30.0], [85.0, 10.0]]), total, cfg).tolist() == [False, True]
