"""ever6_fsm_years of the KS4 cohort on a tiny extract, worked by hand: spring censuses in Years 6-11."""
from __future__ import annotations

from impact.cohorts import covariates, ks4_cohort

from .extracts import census, connect, year_label


def ks4(pmr: str, year: int) -> dict:
    return {"KS4_PupilMatchingRefAnonymous": pmr, "KS4_ACADYR": year_label(year), "KS4_LA": 201, "KS4_ATT8": 40.0,
            "KS4_P8SCORE": 0.0, "KS4_L2BASICS_94": 1, "KS4_L2BASICS_95": 0, "KS4_EBACC_E_PTQ_EE": 0}


def test_ever6_fsm_years_counts_spring_censuses_from_year_6_to_year_11():
    spring = [
        # A, KS4 in 2023: FSM at the springs of 2017 (Year 5, outside), 2018 (Year 6, the first year in),
        # 2020 (twice: a dual registration counts once) and 2022 -> 3
        census("A", 2017, FSMeligible=1), census("A", 2018, FSMeligible=1), census("A", 2020, FSMeligible=1),
        census("A", 2020, FSMeligible=1, EnrolStatus="S", LAESTAB=2012002), census("A", 2022, FSMeligible=1),
        census("A", 2023, EVERFSM_6=1),
        # B, KS4 in 2023: never FSM-eligible -> 0
        census("B", 2023, EVERFSM_6=1),
        # C, KS4 in 2023: eligible at the Year 11 spring itself and in the year after -> 1
        census("C", 2023, FSMeligible=1, EVERFSM_6=1), census("C", 2024, FSMeligible=1),
    ]
    # A's autumn 2021 eligibility is not a spring census: not counted
    con = connect(spring_census=spring, autumn_census=[census("A", 2021, FSMeligible=1)],
                  ks4=[ks4(p, 2023) for p in ("A", "B", "C")])
    frame = ks4_cohort(con, years=[2023])
    con.close()
    years = dict(zip(frame["pupil_id"], frame["ever6_fsm_years"]))
    assert years == {"A": 3, "B": 0, "C": 1}


def test_spring_fsm_counts_across_a_block_of_census_years():
    # Census years 2030 and 2087: flag_fsm's 56-year blocks start at 2030 and 2086, so 2087's six
    # spring censuses (2082-2087) straddle the blocks' boundary and are read from the second block.
    # D, KS4 in 2087: FSM at the springs of 2081 (Year 5, outside), 2082, 2084 and 2087 -> 3; the
    # covariates at the 2087 baseline count the same six springs.
    spring = [census("D", y, FSMeligible=1) for y in (2081, 2082, 2084, 2087)] + [census("D", 2030)]
    con = connect(spring_census=spring, ks4=[ks4("D", 2087)])
    ks4_years = ks4_cohort(con, years=[2030, 2087])["ever6_fsm_years"].to_list()
    history = covariates(con, years=[2030, 2087], baseline_year=2087)["fsm_history_years"].to_list()
    con.close()
    assert (ks4_years, history) == ([3], [3])
