"""Calibration against national figures and recovery of the planted effect by a 2x2 DiD.

One dataset of 100,000 pupils per year, academic years 2017-2023 (7 years, enough for the
2018/19 and 2021/22 figures and for pre/post comparisons), generated once for the module.
"""
from __future__ import annotations

import duckdb
import numpy as np
import pytest

from impact.data.synthetic import PlantedEffects, generate
from impact.data.synthetic.calibration import EVER6_SQL, calibration_rows

from .test_synthetic_parallel import fsm_sen_cells, pooled_difference, pupil_changes

YEARS = (2017, 2023)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("cal") / "npd", pupils=100_000, seed=1, years=YEARS)


def test_every_calibration_row_passes(data):
    rows = calibration_rows(data.path, *YEARS)
    assert len(rows) >= 60
    failed = [r for r in rows if not r.passed and not r.known]
    assert not failed, "\n".join(f"{r.quantity} {r.year}: target {r.target}, generated {r.generated:.2f}" for r in failed)
    # known deviations are confined to the CPPO absence rows (its real post-COVID rise is larger than
    # trends parallel given FSM x SEN allow)
    assert all(r.quantity.startswith("CPPO ") and "absence" in r.quantity for r in rows if r.known)


def panel_did(path, pre: int, post: int) -> tuple[float, float, int, int]:
    """DiD of pupil absence rates, groups fixed at the post census, balanced panel, within FSM x SEN cells.

    Pupils whose census FSM and SEN status is the same in both years; the precision-weighted mean
    over (FSM, SEN) cells of the treated-minus-comparison change is the DiD with pupil and
    year x FSM x SEN fixed effects on this two-period panel.
    """
    d = pupil_changes(path, pre, post)
    same, cell = fsm_sen_cells(d)
    t = d["treated"].astype(bool)[same]
    est, se = pooled_difference((d["rate1"] - d["rate0"])[same], t, cell[same])
    return est, se, int(t.sum()), int((~t).sum())


def test_panel_did_recovers_planted_absence_effect(data):
    est, se, n_t, n_c = panel_did(data.path, 2019, 2022)
    att = data.ground_truth["realised_att"]["vsh"]["overall_absence_rate"]["by_year"]["2022"]["att"]
    assert n_t > 2000 and n_c > 2000
    assert abs(est - att) < 3 * se, (est, att, se)
    assert abs(att - PlantedEffects().absence) < 1e-3


def test_placebo_did_in_pre_years_is_null(data):
    # 2017 -> 2019 with groups fixed at 2019: no policy, no pre-trend planted
    est, se, _, _ = panel_did(data.path, 2017, 2019)
    assert abs(est) < 3 * se, (est, se)


@pytest.mark.slow
def test_did_bias_and_coverage_over_seeds(tmp_path):
    """Repeated simulation: bias of the panel DiD relative to the realised ATT and 95% CI coverage."""
    errors, covered = [], 0
    reps = 20
    for seed in range(100, 100 + reps):
        g = generate(tmp_path / f"s{seed}", pupils=60_000, seed=seed, years=(2019, 2022))
        est, se, _, _ = panel_did(g.path, 2019, 2022)
        att = g.ground_truth["realised_att"]["vsh"]["overall_absence_rate"]["by_year"]["2022"]["att"]
        errors.append(est - att)
        covered += abs(est - att) <= 1.96 * se
    errors = np.array(errors)
    print(f"panel DiD, {reps} reps: mean error {errors.mean():.5f}, sd {errors.std(ddof=1):.5f}, coverage {covered / reps:.2f}")
    assert abs(errors.mean()) < 3 * errors.std(ddof=1) / np.sqrt(reps)
    assert covered >= 0.8 * reps


def group_means(path, year: int) -> tuple[float, float, int]:
    """Mean pupil absence rate of the treated group (status at that year's census) and its SE."""
    con = duckdb.connect()
    flags = EVER6_SQL.format(d=path, y=year, yy=f"{year % 100:02d}")
    d = con.execute(
        f"WITH f AS ({flags}), a AS (SELECT PupilMatchingRefAnonymous AS pmr, sum(coalesce(OverallAbsence_Autumn,0)"
        f"+coalesce(OverallAbsence_Spring,0)+coalesce(OverallAbsence_Summer,0)+coalesce(OverallAbsence_Summer6th,0)) / "
        f"sum(coalesce(SessionsPossible_Autumn,0)+coalesce(SessionsPossible_Spring,0)+coalesce(SessionsPossible_Summer,0)"
        f"+coalesce(SessionsPossible_Summer6th,0)) AS r FROM read_parquet('{path}/absence_{year}.parquet') GROUP BY 1) "
        f"SELECT a.r FROM f JOIN a USING (pmr) WHERE f.ever6_cwsw AND NOT f.ever6_cla").fetchnumpy()["r"].astype(float)
    return d.mean(), d.std(ddof=1) / np.sqrt(d.size), d.size


@pytest.mark.slow
def test_pretrend_shifts_treated_group_by_stated_slope(tmp_path):
    """pretrend=0.5 pp/year adds 0.005 x (Y - 2021) to the treated group's expected rate before 2022.

    Both runs share the population and social care stream, so the groups are identical; only the
    outcome draws differ.
    """
    a = generate(tmp_path / "pt", pupils=60_000, seed=5, years=(2016, 2019), pretrend=0.5)
    b = generate(tmp_path / "flat", pupils=60_000, seed=5, years=(2016, 2019), pretrend=0.0)
    assert a.ground_truth["cohort_counts"] == b.ground_truth["cohort_counts"]
    for year in (2016, 2019):
        (ma, sa, na), (mb, sb, nb) = group_means(a.path, year), group_means(b.path, year)
        assert na == nb > 1000
        assert abs((ma - mb) - 0.005 * (year - 2021)) < 3 * np.hypot(sa, sb), (year, ma - mb)
