"""Parallel trends by construction: Y(0) changes of the headline groups within observed cells.

With every effect zero the written outcomes are Y(0). For pupils on roll in 2018/19 and 2021/22,
grouped at the 2022 census (treated: Ever6 CWSW not looked after; comparison: Ever6 FSM, not
CWSW), the 2019 -> 2022 change of the absence rate must be the same in both groups within cells
of the observed FSM and SEN status (the generator's year shift is a function of year x FSM x SEN),
and the change of P(any suspension) the same within NC-year cells (pupil + phase + year terms).
Sampling tolerance: the pooled within-cell difference is tested at 3 standard errors (a false
alarm about 3 times in 1,000 runs); the same statistic without cells must be far from 0 for the
absence rate, which shows the test can see a group difference when there is one. The unauthorised
rate is checked the same way on the files and, with far more power, on the outcome model itself:
pupils who differ only in their own (time-invariant) traits, among them their unauthorised share, must
see the same change of the unauthorised rate within a cell.
"""
from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pytest

from impact.data.synthetic import PlantedEffects, generate
from impact.data.synthetic.calibration import EVER6_SQL
from impact.data.synthetic.config import Calibration
from impact.data.synthetic.outcomes import draw_absence

PRE, POST = 2019, 2022

_YEAR_SQL = """
SELECT c.pmr, c.fsm, c.sen, c.ncy, a.ov / a.poss AS rate, a.un / a.poss AS urate, coalesce(x.susp, 0) > 0 AS susp
FROM (SELECT PupilMatchingRefAnonymous_SPR{yy} AS pmr, max(FSMeligible_SPR{yy}) AS fsm, max(SENprovision_SPR{yy}) AS sen,
             any_value(NCyearActual_SPR{yy}) FILTER (EnrolStatus_SPR{yy} <> 'S') AS ncy
      FROM read_parquet('{d}/spring_census_{y}.parquet') GROUP BY 1) c
JOIN (SELECT PupilMatchingRefAnonymous AS pmr,
             sum(coalesce(OverallAbsence_Autumn,0)+coalesce(OverallAbsence_Spring,0)+coalesce(OverallAbsence_Summer,0)
                 +coalesce(OverallAbsence_Summer6th,0)) AS ov,
             sum(coalesce(UnauthorisedAbsence_Autumn,0)+coalesce(UnauthorisedAbsence_Spring,0)
                 +coalesce(UnauthorisedAbsence_Summer,0)+coalesce(UnauthorisedAbsence_Summer6th,0)) AS un,
             sum(coalesce(SessionsPossible_Autumn,0)+coalesce(SessionsPossible_Spring,0)+coalesce(SessionsPossible_Summer,0)
                 +coalesce(SessionsPossible_Summer6th,0)) AS poss
      FROM read_parquet('{d}/absence_{y}.parquet') GROUP BY 1) a USING (pmr)
LEFT JOIN (SELECT PupilMatchingRefAnonymous AS pmr, count(*) FILTER (Category = 'FIXD') AS susp
           FROM read_parquet('{d}/exclusions_{y}.parquet') GROUP BY 1) x USING (pmr)
WHERE a.poss > 0
"""


def pupil_changes(path: Path, pre: int = PRE, post: int = POST) -> dict[str, np.ndarray]:
    """Per pupil on roll in `pre` and `post` and in a headline group at the `post` census: group, cells, outcomes."""
    con = duckdb.connect()
    flags = EVER6_SQL.format(d=path, y=post, yy=f"{post % 100:02d}")
    pre = _YEAR_SQL.format(d=path, y=pre, yy=f"{pre % 100:02d}")
    post = _YEAR_SQL.format(d=path, y=post, yy=f"{post % 100:02d}")
    d = con.execute(
        f"WITH f AS ({flags}), a AS ({pre}), b AS ({post}) "
        "SELECT (f.ever6_cwsw AND NOT f.ever6_cla) AS treated, a.fsm AS fsm0, b.fsm AS fsm1, a.sen AS sen0, b.sen AS sen1, "
        "a.ncy AS ncy0, a.rate AS rate0, b.rate AS rate1, a.urate AS urate0, b.urate AS urate1, a.susp::INT AS susp0, b.susp::INT AS susp1, "
        "(a.rate >= 0.10)::INT AS pa0, (b.rate >= 0.10)::INT AS pa1, (a.rate >= 0.50)::INT AS sev0, (b.rate >= 0.50)::INT AS sev1 "
        "FROM f JOIN a USING (pmr) JOIN b USING (pmr) "
        "WHERE (f.ever6_cwsw AND NOT f.ever6_cla) OR (f.ever6_fsm = 1 AND NOT f.ever6_cwsw)").fetchnumpy()
    return {k: np.asarray(v) for k, v in d.items()}


def pooled_difference(change: np.ndarray, treated: np.ndarray, cell: np.ndarray, min_n: int = 30) -> tuple[float, float]:
    """Precision-weighted mean over cells of (mean change of treated - mean change of comparison), and its SE."""
    num = den = 0.0
    for c in np.unique(cell):
        t, k = change[(cell == c) & treated], change[(cell == c) & ~treated]
        if t.size < min_n or k.size < min_n:
            continue
        v = t.var(ddof=1) / t.size + k.var(ddof=1) / k.size
        if v == 0:
            continue
        num += (t.mean() - k.mean()) / v
        den += 1 / v
    return num / den, 1 / np.sqrt(den)


def fsm_sen_cells(d: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Pupils whose FSM and SEN status is the same at both censuses, and their (FSM, SEN) cell."""
    same = (d["fsm0"] == d["fsm1"]) & (d["sen0"] == d["sen1"])
    cell = np.char.add(d["fsm0"].astype(str), d["sen0"].astype(str))
    return same, cell


@pytest.fixture(scope="module")
def changes(tmp_path_factory):
    g = generate(tmp_path_factory.mktemp("par") / "npd", pupils=100_000, seed=1, years=(PRE, POST),
                 effects=PlantedEffects.zero())
    return pupil_changes(g.path)


def test_absence_rate_changes_are_parallel_within_fsm_sen_cells(changes):
    d = changes
    treated = d["treated"].astype(bool)
    same, cell = fsm_sen_cells(d)
    change = d["rate1"] - d["rate0"]
    assert same.sum() > 10_000 and (treated & same).sum() > 1_000
    est, se = pooled_difference(change[same], treated[same], cell[same])
    assert abs(est) < 3 * se, (est, se)
    # without the cells the groups' changes differ (more FSM and SEN among the treated): the
    # statistic has the power to see it
    raw, raw_se = pooled_difference(change[same], treated[same], np.zeros(same.sum(), dtype=int))
    assert raw > 4 * raw_se, (raw, raw_se)


def test_unauthorised_rate_changes_are_parallel_within_fsm_sen_cells(changes):
    d = changes
    treated = d["treated"].astype(bool)
    same, cell = fsm_sen_cells(d)
    est, se = pooled_difference((d["urate1"] - d["urate0"])[same], treated[same], cell[same])
    assert abs(est) < 3 * se, (est, se)


def test_unauthorised_rate_changes_do_not_depend_on_the_pupils_own_traits():
    """The outcome model on 200,000 pupils (no files): half with unauthorised share 0.15, half 0.65,
    heterogeneous pupil effects and school refusal, each in one FSM x SEN cell, aged three years
    between PRE and POST. Within cells the two halves' changes of the unauthorised rate must agree
    (3 SE, about 1e-4); a pupil-specific unauthorised share of the age term (0.0015 per NC year)
    would part them by 0.5 x 0.0015 x 3 = 0.00225, over 20 SE. The FSM part of the year shift
    (0.35 x 0.004 = 0.0014 unauthorised) is seen by the same statistic, so it has the power."""
    cal = Calibration()
    rng = np.random.default_rng(2022)
    n = 200_000
    high = np.arange(n) % 2 == 1
    share = np.where(high, 0.65, 0.15).astype(np.float32)
    base = (cal.abs_floor + cal.abs_scale * rng.gamma(cal.abs_shape, 1 / cal.abs_shape, n)).astype(np.float32)
    refuser = (cal.abs_refuser_shift * (rng.random(n) < cal.abs_refuser_share)).astype(np.float32)
    fsm = rng.random(n) < 0.5
    sen = rng.choice(np.array([0, 1, 2], dtype=np.int8), n, p=[0.6, 0.3, 0.1])
    ncy = rng.integers(1, 8, n).astype(np.int16)
    none, no_effect = np.zeros(n, dtype=bool), np.zeros(n)
    rate = {}
    for year, age in ((PRE, ncy), (POST, ncy + (POST - PRE))):
        draw = draw_absence(np.random.default_rng([11, year]), np.random.default_rng(0), year, age, base, refuser,
                            share, fsm, sen, none, no_effect, no_effect, 0.5, cal)
        rate[year] = draw.unauth / draw.possible.sum(axis=1)
    change = rate[POST] - rate[PRE]
    cell = (3 * fsm + sen).astype(str)
    est, se = pooled_difference(change, high, cell)
    assert abs(est) < 3 * se, (est, se)
    fsm_term, fsm_se = pooled_difference(change, fsm, sen.astype(str))
    assert fsm_term > 4 * fsm_se, (fsm_term, fsm_se)


def test_any_suspension_changes_are_parallel_in_levels_within_nc_year(changes):
    d = changes
    treated = d["treated"].astype(bool)
    change = (d["susp1"] - d["susp0"]).astype(float)
    est, se = pooled_difference(change, treated, d["ncy0"].astype(str))
    assert abs(est) < 3 * se, (est, se)


@pytest.mark.slow
def test_threshold_outcomes_are_not_parallel(tmp_path):
    """DiD 'bias' of persistent and severe absence on Y(0) (no effect), with and without FSM x SEN cells.

    Rates are parallel within cells, threshold indicators are not: a common shift of the rate moves
    more pupils across 10% (50%) in the group with more mass near the threshold. Prints the figures
    quoted in docs/explanation/synthetic-data.md.
    """
    g = generate(tmp_path / "npd", pupils=200_000, seed=1, years=(PRE, POST), effects=PlantedEffects.zero())
    d = pupil_changes(g.path)
    treated = d["treated"].astype(bool)
    same, cell = fsm_sen_cells(d)
    out = {}
    for name, a, b in (("rate", "rate0", "rate1"), ("persistent", "pa0", "pa1"), ("severe", "sev0", "sev1")):
        change = (d[b] - d[a]).astype(float)[same]
        out[name] = (pooled_difference(change, treated[same], cell[same]),
                     pooled_difference(change, treated[same], np.zeros(same.sum(), dtype=int)))
        (w, w_se), (r, r_se) = out[name]
        print(f"{name}: within FSM x SEN cells {w:+.4f} (SE {w_se:.4f}); without cells {r:+.4f} (SE {r_se:.4f})")
    (w, w_se), _ = out["rate"]
    assert abs(w) < 3 * w_se
    (w, w_se), _ = out["severe"]
    assert abs(w) > 3 * w_se  # the non-parallel threshold term is real, not noise
