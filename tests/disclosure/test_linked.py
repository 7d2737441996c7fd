"""Secondary suppression across linked tables: hand-made tables where a subgroup count is recovered
by subtraction before the cross-table pass and not after; an independent rank test is the intruder."""
import numpy as np
import polars as pl
import pytest

from impact.disclosure import DisclosureConfig, check_table
from impact.disclosure.linked import Cell, Relation, breakdown_relations, protect_linked, row_sum_relations
from impact.errors import ParameterError


def determined(a, known_mask, j):
    """Independent intruder: is unknown j fixed by a @ x = b once the known columns are given?
    (e_j in the row space of the unknown columns, by comparing matrix ranks)."""
    u = np.flatnonzero(~known_mask)
    sub = a[:, u]
    e = (u == j).astype(float)[None, :]
    return np.linalg.matrix_rank(np.vstack([sub, e])) == np.linalg.matrix_rank(sub)


def matrix(relations, cells):
    index = {c: i for i, c in enumerate(cells)}
    a = np.zeros((len(relations), len(cells)))
    for k, r in enumerate(relations):
        a[k, index[r.total]] = 1
        for p in r.parts:
            a[k, index[p]] -= 1
    return a


def hand_made():
    """An estimate table by LA band (band c has 7 treated pupils) and a cohort table whose treated
    column repeats the whole-sample count."""
    est = pl.DataFrame({
        "term": ["att"] * 4, "estimate": [0.1, 0.2, 0.3, 0.4], "df": [50.0] * 4,
        "n_obs": [240, 120, 106, 14], "n_treated": [120, 60, 53, 7], "n_comparison": [120, 60, 53, 7],
        "subgroup": [None, "band", "band", "band"], "subgroup_level": [None, "a", "b", "c"],
    })
    cohort = pl.DataFrame({"arm": ["treated", "comparison"], "n": [120, 120]})
    return est, cohort


def linked(est, cohort):
    rels = breakdown_relations("est", est, keys=["term"], counts={"band": ["n_obs", "n_treated", "n_comparison"]})
    rels += row_sum_relations("est", est, "n_obs", ["n_treated", "n_comparison"])
    rels += [Relation(Cell("cohort", 0, "n"), (Cell("est", 0, "n_treated"),), "same pupils")]
    return rels


def known(checked, cells):
    return np.array([checked[c.table].table[c.column][c.row] is not None for c in cells])


def test_subgroup_count_recovered_before_the_pass_and_not_after():
    est, cohort = hand_made()
    cfg = DisclosureConfig()
    checked = {"est": check_table(est, "estimate", name="est", config=cfg),
               "cohort": check_table(cohort, "frequency", name="cohort", config=cfg)}
    rels = linked(est, cohort)
    cells = list(dict.fromkeys(c for r in rels for c in (r.total, *r.parts)))
    a = matrix(rels, cells)
    small = cells.index(Cell("est", 3, "n_treated"))
    assert checked["est"].table["n_treated"][3] is None  # primary suppression alone ...
    assert determined(a, known(checked, cells), small)  # ... is undone by 120 - 60 - 53
    blank = {"est": {c: ["estimate", "df", "n_obs", "n_treated", "n_comparison"] for c in ("n_obs", "n_treated", "n_comparison")}}
    out = protect_linked(checked, {"est": est, "cohort": cohort}, rels, blank=blank)
    k = known(out, cells)
    for j, c in enumerate(cells):
        true = (est if c.table == "est" else cohort)[c.column][c.row]
        if not k[j] and true < cfg.min_count:
            assert not determined(a, k, j), c
    table = out["est"].table
    # the smallest other band (b, 53 treated) is hidden with its statistics; the total stays
    assert table["n_treated"].to_list() == [120, 60, None, None]
    assert table["estimate"][2] is None and table["estimate"][0] == 0.1
    assert out["est"].status == "review" and "secondary-linked" in out["est"].cells
    notes = out["est"].properties["linked_suppression"]
    assert {"row": 2, "column": "n_treated", "why": "secondary, linked to est (n_treated of the whole sample = sum over band levels)"} in notes
    assert {"row": 2, "column": "estimate", "why": "blanked with n_treated, which is suppressed"} in notes
    assert out["cohort"] is checked["cohort"]  # untouched tables are passed through


def test_suppression_spreads_to_another_table_when_the_total_is_the_only_complement():
    """One band hidden and its only sibling released: the sibling is hidden; when the total is the
    only released cell left in the relation, the copy in another table goes too."""
    cfg = DisclosureConfig()
    est = pl.DataFrame({"term": ["att"] * 2, "estimate": [0.1, 0.2], "df": [50.0, 50.0], "n_treated": [30, 4],
                        "subgroup": [None, "band"], "subgroup_level": [None, "a"]})
    cohort = pl.DataFrame({"arm": ["treated"], "n": [30]})
    checked = {"est": check_table(est, "estimate", name="est", config=cfg),
               "cohort": check_table(cohort, "frequency", name="cohort", config=cfg)}
    rels = breakdown_relations("est", est, keys=["term"], counts={"band": ["n_treated"]})
    rels.append(Relation(Cell("cohort", 0, "n"), (Cell("est", 0, "n_treated"),), "same pupils"))
    out = protect_linked(checked, {"est": est, "cohort": cohort}, rels)
    assert out["est"].table["n_treated"].to_list() == [None, None]
    assert out["cohort"].table["n"].to_list() == [None]
    why = out["cohort"].properties["linked_suppression"][0]["why"]
    assert why == "secondary, linked to est (same pupils)"


def test_a_known_small_sum_of_hidden_parts_needs_one_more_cell():
    """Bands of 4 and 5 hidden under a released total: their sum 9 would be known, itself unsafe."""
    cfg = DisclosureConfig()
    est = pl.DataFrame({"term": ["att"] * 4, "estimate": [0.0] * 4, "df": [50.0] * 4, "n_treated": [59, 4, 5, 50],
                        "subgroup": [None, "b", "b", "b"], "subgroup_level": [None, "x", "y", "z"]})
    ct = check_table(est, "estimate", name="est", config=cfg)
    rels = breakdown_relations("est", est, keys=["term"], counts={"b": ["n_treated"]})
    out = protect_linked({"est": ct}, {"est": est}, rels)
    assert out["est"].table["n_treated"].to_list() == [59, None, None, None]


def test_unprotectable_count_fails_the_table():
    """Everything already hidden and two relations pin the small part: nothing left to open."""
    cfg = DisclosureConfig()
    t = pl.DataFrame({"g": ["a", "b", "c"], "n": [3, 4, 7]})
    ct = check_table(t, "frequency", name="t", config=cfg)
    assert ct.table["n"].to_list() == [None, None, None]
    a, b, c = (Cell("t", i, "n") for i in range(3))
    out = protect_linked({"t": ct}, {"t": t}, [Relation(c, (a, b), "c = a + b"), Relation(c, (b,), "c = b + 3")])
    assert out["t"].status == "fail" and "unprotected" in out["t"].cells


def test_bad_relations_name_the_problem():
    est, cohort = hand_made()
    ct = {"est": check_table(est, "estimate", name="est")}
    with pytest.raises(ParameterError, match="names table 'nope'"):
        protect_linked(ct, {"est": est}, [Relation(Cell("nope", 0, "n"), (Cell("est", 0, "n_obs"),), "x")])
    with pytest.raises(ParameterError, match="missing cell"):
        protect_linked(ct, {"est": est}, [Relation(Cell("est", 9, "n_obs"), (Cell("est", 0, "n_obs"),), "x")])
    with pytest.raises(ParameterError, match="names a cell twice"):
        protect_linked(ct, {"est": est}, [Relation(Cell("est", 0, "n_obs"), (Cell("est", 0, "n_obs"),), "x")])
