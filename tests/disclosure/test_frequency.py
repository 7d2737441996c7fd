import numpy as np
import polars as pl
import pytest

from impact.disclosure import DisclosureConfig, check_table
from impact.errors import DataError, ParameterError


def one_way(values):
    return pl.DataFrame({"group": [f"g{i}" for i in range(len(values))], "count": values})


def test_cell_of_9_suppressed_and_10_passes():
    ct = check_table(one_way([9, 50, 60]), "frequency", name="t")
    assert ct.status == "review"
    assert ct.table["count"][0] is None
    assert (0, 1) in ct.cells["threshold"]
    # one-way table: the total is public, so a second (smallest) cell goes too
    assert ct.cells["secondary"] == [(1, 1)]
    ok = check_table(one_way([10, 50, 60]), "frequency", name="t")
    assert ok.status == "pass" and ok.table["count"].to_list() == [10, 50, 60] and ok.summary == {}


def test_hidden_cells_of_a_margin_never_sum_to_a_small_count():
    # 3 and 4 alone would be protected from exact recovery, but the total reveals 3 + 4 = 7
    ct = check_table(one_way([3, 4, 50, 60]), "frequency", name="t", margins=True)
    assert ct.table["count"].to_list() == [None, None, None, 60, 117]
    assert ct.cells["secondary"] == [(2, 1)]


def test_zero_flagged_only_when_zeros_disclosive():
    table = pl.DataFrame({"g": ["a", "b"], "x": [0, 40], "y": [25, 30]})
    flagged = check_table(table, "frequency", name="t")
    assert flagged.cells["zeros"] == [(0, 1)] and flagged.table["x"][0] is None
    allowed = check_table(table, "frequency", name="t", config=DisclosureConfig(zeros_disclosive=False))
    assert allowed.status == "pass" and allowed.table["x"][0] == 0


def test_structural_zero_needs_a_justification_and_is_recorded():
    table = pl.DataFrame({"g": ["a", "b"], "x": [0, 40], "y": [25, 30]})
    ct = check_table(table, "frequency", name="t", structural_zeros={(0, "x"): "boys cannot attend a girls' school"})
    assert ct.table["x"][0] == 0 and ct.status == "review"
    assert "girls' school" in ct.exception and ct.cells["structural-zero"] == [(0, 1)]
    with pytest.raises(ParameterError, match="non-empty justification"):
        check_table(table, "frequency", name="t", structural_zeros={(0, "x"): " "})
    with pytest.raises(ParameterError, match="not zero"):
        check_table(table, "frequency", name="t", structural_zeros={(1, "x"): "why"})


def test_rounding_base5_hand_worked_with_margins_from_rounded_cells():
    # cells            12 23 18 | 53        rounded  10 25 20 | 55
    #                  44 31 10 | 85                 45 30 10 | 85
    #                  --------            --------
    #                  56 54 28  138                 55 55 30  140
    table = pl.DataFrame({"g": ["a", "b"], "x": [12, 44], "y": [23, 31], "z": [18, 10]})
    ct = check_table(table, "frequency", name="t", margins=True, config=DisclosureConfig(rounding_base=5))
    t = ct.table
    assert t["g"].to_list() == ["a", "b", "Total"]
    assert t.select("x", "y", "z", "Total").rows() == [(10, 25, 20, 55), (45, 30, 10, 85), (55, 55, 30, 140)]
    assert ct.status == "review" and "Rounding to base 5" in ct.exception
    assert ct.summary == {"rounded": 12}


def test_true_margins_without_rounding_and_withheld_small_margin():
    table = pl.DataFrame({"g": ["a", "b", "c"], "x": [3, 40, 30], "y": [4, 30, 25]})
    ct = check_table(table, "frequency", name="t", margins=True)
    t = ct.table
    # row a totals 7 < 10: the margin is suppressed as a small count
    assert t["Total"][0] is None and (0, 3) in ct.cells["threshold"]
    assert t.row(3) == ("Total", 73, 59, 132)


def test_extreme_column_is_blocked():
    table = pl.DataFrame({"g": ["a", "b"], "count": [30, 40], "max": [99, 120]})
    ct = check_table(table, "frequency", name="t")
    assert ct.status == "fail" and ct.table["max"].null_count() == 2
    assert ct.cells["extremes"] == [(0, 2), (1, 2)]
    off = check_table(table.drop("max").with_columns(pl.lit(50).alias("ecdf_max")), "frequency", name="t")
    assert "extremes" not in off.cells


def test_bad_counts_and_options_fail_clearly():
    with pytest.raises(DataError, match="count column 'x' has 1 value"):
        check_table(pl.DataFrame({"g": ["a", "b"], "x": [1.5, 20.0]}), "frequency", name="t")
    with pytest.raises(ParameterError, match="unknown option"):
        check_table(one_way([20, 30]), "frequency", name="t", dominance=False)
    with pytest.raises(ParameterError, match="'kind' parameter of check_table"):
        check_table(one_way([20, 30]), "table", name="t")


def test_pandas_input_and_masks():
    pd = pytest.importorskip("pandas")
    ct = check_table(pd.DataFrame({"g": ["a", "b", "c"], "n": [5, 20, 30]}), "frequency", name="t")
    m = ct.mask("threshold")
    assert m.shape == ct.table.shape and m["n"].to_list() == [True, False, False]
    assert np.array_equal(ct.mask("secondary")["n"].to_numpy(), [False, True, False])
