"""The key guarantee: no suppressed cell (or withheld total) can be back-solved from what is released.

An independent intruder: integer programming (scipy milp) over non-negative integer tables that
agree with every released inner cell and every released margin of the checked table.
"""
import numpy as np
import polars as pl
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from impact.disclosure import DisclosureConfig, check_table
from impact.disclosure.suppression import protect


def random_table(rng, r, c):
    small = rng.random((r, c)) < 0.25
    x = np.where(small, rng.integers(0, 10, (r, c)), rng.integers(10, 80, (r, c)))
    return x


def as_frame(x):
    return pl.DataFrame({"g": [f"r{i}" for i in range(x.shape[0])], **{f"c{j}": x[:, j] for j in range(x.shape[1])}})


def integer_range(released, row_tot, col_tot, grand, objective):
    """Min and max of objective . x over non-negative integer tables matching the released values."""
    r, c = released.shape
    n = r * c
    rows, lo = [], []
    for i in range(r):
        for j in range(c):
            if released[i, j] is not None:
                a = np.zeros(n)
                a[i * c + j] = 1
                rows.append(a)
                lo.append(released[i, j])
    for i, v in enumerate(row_tot):
        if v is not None:
            a = np.zeros(n)
            a[i * c:(i + 1) * c] = 1
            rows.append(a)
            lo.append(v)
    for j, v in enumerate(col_tot):
        if v is not None:
            a = np.zeros(n)
            a[j::c] = 1
            rows.append(a)
            lo.append(v)
    if grand is not None:
        rows.append(np.ones(n))
        lo.append(grand)
    cons = LinearConstraint(np.array(rows), lo, lo)
    kw = dict(constraints=cons, integrality=np.ones(n), bounds=Bounds(0, 10_000))
    lo_res = milp(objective, **kw)
    hi_res = milp(-objective, **kw)
    assert lo_res.status == 0 and hi_res.status == 0
    return round(lo_res.fun), round(-hi_res.fun)


def released_parts(ct, r, c):
    t = ct.table
    cols = [f"c{j}" for j in range(c)]
    inner = np.array([[t[col][i] for col in cols] for i in range(r)], dtype=object)
    row_tot = t["Total"].to_list()[:r]
    col_tot = [t[col][r] for col in cols]
    return inner, row_tot, col_tot, t["Total"][r]


@pytest.mark.parametrize("shape", [(3, 4), (4, 5)])
@pytest.mark.parametrize("zeros", [True, False])
def test_brute_force_back_solve_cannot_recover_any_suppressed_value(shape, zeros):
    r, c = shape
    cfg = DisclosureConfig(zeros_disclosive=zeros)
    checked_tables = determined_without_secondary = 0
    for seed in range(40):
        x = random_table(np.random.default_rng(seed), r, c)
        ct = check_table(as_frame(x), "frequency", name="t", margins=True, config=cfg)
        if ct.status == "fail":  # only allowed when the engine says it could not protect
            assert "unprotected" in ct.cells
            continue
        inner, row_tot, col_tot, grand = released_parts(ct, r, c)
        for i, j in zip(*np.nonzero(inner == None)):  # noqa: E711 - object array
            obj = np.zeros(r * c)
            obj[i * c + j] = 1
            lo, hi = integer_range(inner, row_tot, col_tot, grand, obj)
            assert lo <= x[i, j] <= hi and lo < hi, (seed, i, j)
        for i, v in enumerate(row_tot):
            if v is None:
                obj = np.zeros(r * c)
                obj[i * c:(i + 1) * c] = 1
                lo, hi = integer_range(inner, row_tot, col_tot, grand, obj)
                assert lo < hi, (seed, "row total", i)
        for j, v in enumerate(col_tot):
            if v is None:
                obj = np.zeros(r * c)
                obj[j::c] = 1
                lo, hi = integer_range(inner, row_tot, col_tot, grand, obj)
                assert lo < hi, (seed, "column total", j)
        # nor can a small count be back-calculated as the sum of a margin's hidden cells
        lines = [(inner[i], row_tot[i]) for i in range(r)] + [(inner[:, j], col_tot[j]) for j in range(c)]
        for cells, total in lines:
            hidden = [v is None for v in cells]
            if total is not None and any(hidden):
                rest = total - sum(v for v in cells if v is not None)
                assert rest >= 10 or (rest == 0 and not zeros), (seed, rest)
        checked_tables += 1
        # the test has teeth: with primary suppression alone, some cell would be back-solved
        primary = (x < 10) & ((x > 0) | zeros)
        if primary.any():
            naive = np.where(primary, None, x).astype(object)
            i, j = np.argwhere(primary)[0]
            obj = np.zeros(r * c)
            obj[i * c + j] = 1
            lo, hi = integer_range(naive, list(x.sum(1)), list(x.sum(0)), int(x.sum()), obj)
            determined_without_secondary += lo == hi
    assert checked_tables >= 30
    assert determined_without_secondary >= 5


def test_bridge_left_by_the_pairing_rule_is_caught_by_the_lp_check():
    # Suppression pattern with two suppressions in every row and column, yet cell (1, 2) is a
    # bridge between two cycles, so the margins determine it; the LP check must add cells.
    x = np.array([[5, 6, 50, 60], [7, 8, 4, 80], [90, 91, 3, 4], [92, 93, 5, 6]])
    primary = np.zeros(x.shape, bool)
    primary[[0, 0, 1, 1, 1, 2, 2, 3, 3], [0, 1, 0, 1, 2, 2, 3, 2, 3]] = True
    naive = np.where(primary, None, x).astype(object)
    obj = np.zeros(16)
    obj[1 * 4 + 2] = 1
    lo, hi = integer_range(naive, list(x.sum(1)), list(x.sum(0)), int(x.sum()), obj)
    assert lo == hi == 4  # the pairing rule alone does not protect it
    p = protect(x, primary, lambda v: v < 10)
    assert p.protected and p.secondary.any()
    released = np.where(p.suppressed, None, x).astype(object)
    lo, hi = integer_range(released, list(x.sum(1)), list(x.sum(0)), int(x.sum()), obj)
    assert lo < hi


def test_deterministic_choice_of_smallest_complement():
    x = np.array([[12, 23, 18], [44, 7, 10], [30, 25, 40]])
    p = protect(x, x < 10, lambda v: v < 10)
    rows, cols = p.secondary.nonzero()
    assert rows.tolist() == [0, 0, 1] and cols.tolist() == [1, 2, 2]
    again = protect(x, x < 10, lambda v: v < 10)
    assert np.array_equal(again.suppressed, p.suppressed)


def test_cell_pinned_by_a_released_zero_total_is_reported_unprotected():
    # the row total 0 is released (zeros not disclosive), so the suppressed 0 in that row is
    # known whatever else is hidden: the engine must say so rather than claim protection
    x = np.array([[0, 0], [20, 30]])
    primary = np.array([[True, False], [False, False]])
    p = protect(x, primary, lambda v: (v > 0) & (v < 10))
    assert not p.protected and p.unprotected[0, 0]
